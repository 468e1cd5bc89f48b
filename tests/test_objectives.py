"""Tests of llmlab.objectives: the proportions each paper states, and exact reconstruction."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab import objectives as obj

V = 100  # vocabulary: ids 0..98 ordinary, 99 = [MASK]
MASK = 99
N = 200_000  # a long sequence, so proportions are tight


def _seq(n=N, seed=0, high=MASK):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, high, (n,), generator=g)


def _within(observed, expected, n, sigmas=5):
    """Binomial tolerance: |observed - expected| < sigmas * sqrt(p(1-p)/n)."""
    return abs(observed - expected) < sigmas * math.sqrt(expected * (1 - expected) / n)


# ---------------------------------------------------------------- MLM (BERT)


def test_mlm_proportions_match_bert():
    x = _seq()
    inp, tgt = obj.mlm_mask(x, MASK, V, seed=1)
    chosen = tgt != obj.IGNORE_INDEX
    n_chosen = int(chosen.sum())
    assert _within(n_chosen / N, 0.15, N)
    kinds = obj.mlm_kinds(inp, tgt, MASK)
    frac = {k: kinds.count(k) / n_chosen for k in ("mask", "random", "kept")}
    assert _within(frac["mask"], 0.8, n_chosen)
    # a random replacement equals the original 1 time in 99 and then counts as kept
    p_same = 1 / (V - 1)
    assert _within(frac["random"], 0.1 * (1 - p_same), n_chosen)
    assert _within(frac["kept"], 0.1 + 0.1 * p_same, n_chosen)
    # unchosen positions are untouched
    assert torch.equal(inp[~chosen], x[~chosen])


def test_mlm_reconstruction_and_seed():
    x = _seq(5000)
    a = obj.mlm_mask(x, MASK, V, seed=3)
    b = obj.mlm_mask(x, MASK, V, seed=3)
    c = obj.mlm_mask(x, MASK, V, seed=4)
    assert torch.equal(a.input, b.input) and torch.equal(a.target, b.target)
    assert not torch.equal(a.input, c.input)
    assert torch.equal(obj.mlm_reconstruct(*a), x)


def test_mlm_batch_shape_and_special_ids_protected():
    x = _seq(64 * 32).view(64, 32)
    x[:, 0] = 7  # pretend 7 is a [CLS] token
    inp, tgt = obj.mlm_mask(x, MASK, V, special_ids=[7], seed=0)
    assert inp.shape == tgt.shape == (64, 32)
    assert (tgt[:, 0] == obj.IGNORE_INDEX).all() and (inp[:, 0] == 7).all()
    # random replacements never produce [MASK] or a special id outside the 80% branch
    kinds = obj.mlm_kinds(inp.flatten(), tgt.flatten(), MASK)
    randoms = inp.flatten()[torch.tensor([k == "random" for k in kinds])]
    assert not torch.isin(randoms, torch.tensor([7, MASK])).any()


def test_mlm_matches_independent_reference_on_loss_positions():
    """The loss only sees chosen positions: cross_entropy with ignore_index equals a manual mean."""
    x = _seq(400)
    inp, tgt = obj.mlm_mask(x, MASK, V, seed=5)
    logits = torch.randn(400, V)
    loss = torch.nn.functional.cross_entropy(logits, tgt, ignore_index=obj.IGNORE_INDEX)
    chosen = tgt != obj.IGNORE_INDEX
    manual = -torch.log_softmax(logits[chosen], -1).gather(1, tgt[chosen, None]).mean()
    torch.testing.assert_close(loss, manual)


def test_mlm_bad_input():
    with pytest.raises(ValueError, match="MASK"):
        obj.mlm_mask([1, 2, 3], 100, V)
    with pytest.raises(ValueError, match="0..99"):
        obj.mlm_mask([1, 2, 300], MASK, V)
    with pytest.raises(TypeError, match="token ids"):
        obj.mlm_mask(torch.rand(5), MASK, V)


# ---------------------------------------------------------------- span corruption (T5)

SENTINELS = list(range(1000, 1000 + 2000))


def test_span_corruption_proportions_match_t5():
    n = 20_000
    x = _seq(n)
    noise = obj.span_noise_mask(n, seed=2)
    assert int(noise.sum()) == round(0.15 * n)  # exactly 15% of the tokens
    starts = noise & ~torch.cat([torch.tensor([False]), noise[:-1]])
    num_spans = int(starts.sum())
    assert num_spans == round(0.15 * n / 3)  # mean span length 3
    assert not noise[0]  # starts with a kept token
    inp, tgt = obj.span_corrupt(x, SENTINELS, seed=2)
    assert len(inp) == n - int(noise.sum()) + num_spans
    assert len(tgt) == int(noise.sum()) + num_spans + 1


def test_span_lengths_average_three_over_many_seeds():
    lengths = []
    for seed in range(200):
        noise = obj.span_noise_mask(100, seed=seed).int().tolist()
        run = 0
        for v in [*noise, 0]:
            if v:
                run += 1
            elif run:
                lengths.append(run)
                run = 0
    assert abs(sum(lengths) / len(lengths) - 3.0) < 0.01  # 15 noise tokens in 5 spans, every time
    assert max(lengths) > 3 and min(lengths) == 1  # but the spans vary


def test_span_corruption_t5_example_and_reconstruction():
    words = "Thank you for inviting me to your party last week .".split()
    ids = list(range(len(words)))
    inp, tgt = obj.span_corrupt(ids, SENTINELS, seed=0)
    assert inp.tolist().count(SENTINELS[0]) == 1 and tgt[0] == SENTINELS[0]
    assert tgt[-1] in SENTINELS
    assert obj.span_reconstruct(inp, tgt, SENTINELS).tolist() == ids


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 300),
    seed=st.integers(0, 10_000),
    density=st.floats(0.05, 0.5),
    span=st.floats(1.0, 6.0),
)
def test_span_reconstruction_property(n, seed, density, span):
    x = _seq(n, seed=seed)
    pair = obj.span_corrupt(x, SENTINELS, seed=seed, noise_density=density, mean_span_length=span)
    assert torch.equal(obj.span_reconstruct(*pair, SENTINELS), x)


def test_span_corruption_bad_input():
    with pytest.raises(ValueError, match="sentinel ids"):
        obj.span_corrupt(_seq(1000), SENTINELS[:3])
    with pytest.raises(ValueError, match="already contains"):
        obj.span_corrupt([1000, 1, 2, 3], SENTINELS)
    with pytest.raises(ValueError, match="1-D"):
        obj.span_corrupt(_seq(20).view(4, 5), SENTINELS)


# ---------------------------------------------------------------- causal LM (GPT)


def test_causal_lm_shift_and_reconstruction():
    x = _seq(50).view(5, 10)
    inp, tgt = obj.causal_lm_pair(x)
    assert inp.shape == tgt.shape == (5, 9)
    assert torch.equal(tgt[:, :-1], inp[:, 1:])
    assert torch.equal(obj.causal_lm_reconstruct(inp, tgt), x)
    with pytest.raises(ValueError, match="at least 2"):
        obj.causal_lm_pair([3])
    with pytest.raises(ValueError, match="shifted"):
        obj.causal_lm_reconstruct(torch.tensor([1, 2]), torch.tensor([5, 6]))


# ---------------------------------------------------------------- attention masks


def test_family_masks():
    m = obj.family_masks(5, 3)
    assert m["encoder-only"].all()
    ref = torch.ones(5, 5).tril().bool()  # independent reference for the causal mask
    assert torch.equal(m["decoder-only"], ref)
    assert m["encoder self-attention"].shape == (5, 5) and m["encoder self-attention"].all()
    assert torch.equal(m["decoder self-attention"], torch.ones(3, 3).tril().bool())
    assert m["decoder cross-attention"].shape == (3, 5) and m["decoder cross-attention"].all()


def test_causal_mask_blocks_the_future_in_torch_attention():
    """With the decoder-only mask, torch's own attention output at t ignores tokens after t."""
    T, d = 6, 4
    q, k, v = torch.randn(3, 1, T, d).unbind(0)
    mask = obj.family_masks(T)["decoder-only"]
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    v2 = v.clone()
    v2[..., 4:, :] += 10.0  # change the future of position 3
    k2 = k.clone()
    k2[..., 4:, :] -= 3.0
    out2 = torch.nn.functional.scaled_dot_product_attention(q, k2, v2, attn_mask=mask)
    torch.testing.assert_close(out[..., :4, :], out2[..., :4, :])
    assert not torch.allclose(out[..., 4:, :], out2[..., 4:, :])


# ---------------------------------------------------------------- the encoder-vs-decoder comparison


def _tiny(causal, V=12, T=16):
    from llmlab.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    return GPT(
        GPTConfig(vocab_size=V, block_size=T, n_layer=1, n_head=2, n_embd=16, causal=causal)
    ).eval()


def test_masked_lm_stream_batches_are_masked_windows_of_the_text():
    ids = _seq(3000, high=11)
    stream = obj.MaskedLMStream(ids[:2500], ids[2500:], 16, mask_id=11, vocab_size=12)
    g = torch.Generator().manual_seed(0)
    x, y = stream.sample("train", 8, g)
    assert x.shape == y.shape == (8, 16)
    original = obj.mlm_reconstruct(x, y)
    text = ids[:2500].tolist()
    for row in original.tolist():  # each reconstructed row is a window of the training text
        assert any(text[i : i + 16] == row for i in range(len(text) - 15))
    assert (y != obj.IGNORE_INDEX).any()


def test_predict_blank_uses_left_only_for_a_decoder_and_both_sides_for_an_encoder():
    dec, enc = _tiny(True), _tiny(False)
    w = _seq(4 * 16, high=11).view(4, 16)
    w2 = w.clone()
    w2[:, 9:] = (w2[:, 9:] + 1) % 11  # change everything right of the blank at 8
    for model, depends in [(dec, False), (enc, True)]:
        a = obj.predict_blank(model, w, 8, mask_id=11)
        b = obj.predict_blank(model, w2, 8, mask_id=11)
        assert a.shape == (4, 12)
        assert (not torch.allclose(a, b)) == depends
    # the decoder's blank logits are its next-token logits after the left context
    ref, _ = dec(w[:, :8])
    torch.testing.assert_close(obj.predict_blank(dec, w, 8, 11), ref[:, -1])
    with pytest.raises(ValueError, match="position"):
        obj.predict_blank(dec, w, 0, 11)


def test_blank_scores_and_compare_on_tasks():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    s = obj.blank_scores(logits, torch.tensor([0, 1, 1]))
    assert s["accuracy"] == pytest.approx(2 / 3)
    assert s["loss"] == pytest.approx(
        torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 1])).item()
    )
    rows = obj.compare_on_tasks(
        {"enc": _tiny(False), "dec": _tiny(True)}, _seq(64, high=11).view(4, 16), 11
    )
    assert [(r["task"], r["model"], r["sees"]) for r in rows] == [
        ("fill the middle blank", "enc", "both sides"),
        ("fill the middle blank", "dec", "left context only"),
        ("predict the next token", "enc", "left context only"),
        ("predict the next token", "dec", "left context only"),
    ]


def test_fill_blanks_keeps_the_rest_and_never_writes_mask():
    x = _seq(16, high=11)
    for model in (_tiny(True), _tiny(False)):
        out = obj.fill_blanks(model, x, [3, 4, 10], mask_id=11)
        assert len(out) == 16 and 11 not in out
        keep = [i for i in range(16) if i not in (3, 4, 10)]
        assert [out[i] for i in keep] == [int(x[i]) for i in keep]
    with pytest.raises(ValueError, match="blank positions"):
        obj.fill_blanks(_tiny(True), x, [0], 11)


def test_span_corrupt_with_a_given_noise_mask():
    inp, tgt = obj.span_corrupt(
        [5, 6, 7, 8, 9], SENTINELS, noise_mask=[False, True, True, False, True]
    )
    assert inp.tolist() == [5, SENTINELS[0], 8, SENTINELS[1]]
    assert tgt.tolist() == [SENTINELS[0], 6, 7, SENTINELS[1], 9, SENTINELS[2]]


def test_greedy_continue_decoder_matches_argmax_and_encoder_never_writes_mask():
    dec, enc = _tiny(True), _tiny(False)
    x = _seq(10, high=11)
    out = obj.greedy_continue(dec, x, 3, mask_id=11)
    assert out[:10] == x.tolist() and len(out) == 13
    logits, _ = dec(x[None])
    assert out[10] == int(logits[0, -1].argmax())  # the decoder: plain greedy decoding
    out_enc = obj.greedy_continue(enc, x, 20, mask_id=11)  # longer than block_size: cropped
    assert len(out_enc) == 30 and 11 not in out_enc
