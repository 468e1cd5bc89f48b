"""llmlab.generation: sampling filters against direct computations, KV cache = no cache, seeding, cropping."""

import pytest
import torch

from llmlab.generation import (
    forward_seconds,
    generate,
    kv_cache_speedup,
    next_token_distributions,
    sampling_probs,
    timed_generation,
)
from llmlab.gpt import GPT, GPTConfig

CONFIG = GPTConfig(vocab_size=40, block_size=24, n_layer=2, n_head=4, n_embd=32)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = GPT(CONFIG)
    with torch.no_grad():  # larger weights than GPT-2's init, so the distributions are not flat
        for p in m.parameters():
            p.mul_(8.0)
    return m.eval()


def test_temperature_is_softmax_of_scaled_logits():
    logits = torch.randn(3, 10)
    torch.testing.assert_close(sampling_probs(logits, 0.5), torch.softmax(logits / 0.5, -1))
    greedy = sampling_probs(logits, 0)
    assert (greedy.argmax(-1) == logits.argmax(-1)).all() and (greedy.sum(-1) == 1).all()
    assert (greedy > 0).sum() == 3


def test_top_k_keeps_the_k_most_likely():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0, -1.0]])
    p = sampling_probs(logits, 1.0, top_k=2)
    assert (p[0, [0, 3, 4]] == 0).all()
    ref = torch.softmax(torch.tensor([3.0, 2.0]), -1)
    torch.testing.assert_close(p[0, [1, 2]], ref)


def test_top_p_keeps_the_smallest_nucleus():
    probs = torch.tensor([[0.05, 0.5, 0.3, 0.15]])
    logits = probs.log()
    # 0.5 < 0.7 so 0.3 is also needed (0.8 >= 0.7); 0.15 and 0.05 are outside the nucleus
    p = sampling_probs(logits, 1.0, top_p=0.7)
    torch.testing.assert_close(p, torch.tensor([[0.0, 0.5 / 0.8, 0.3 / 0.8, 0.0]]))
    # the most likely token always stays, even for a tiny p
    assert sampling_probs(logits, 1.0, top_p=0.01)[0].tolist() == [0.0, 1.0, 0.0, 0.0]
    torch.testing.assert_close(sampling_probs(logits, 1.0, top_p=1.0), probs)


def test_bad_sampling_arguments():
    with pytest.raises(ValueError, match="temperature"):
        sampling_probs(torch.randn(5), -1.0)
    with pytest.raises(ValueError, match="top_k"):
        sampling_probs(torch.randn(5), 1.0, top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        sampling_probs(torch.randn(5), 1.0, top_p=1.5)


def test_sampling_follows_the_distribution():
    probs = torch.tensor([0.1, 0.6, 0.3])
    g = torch.Generator().manual_seed(0)
    draws = torch.multinomial(
        sampling_probs(probs.log(), 1.0).expand(20000, 3), 1, replacement=True, generator=g
    )
    freq = torch.bincount(draws.flatten(), minlength=3) / 20000
    torch.testing.assert_close(freq, probs, atol=0.02, rtol=0)


def test_greedy_equals_argmax_loop(model):
    prompt = [1, 2, 3]
    out = generate(model, prompt, 8, temperature=0)
    idx = torch.tensor([prompt])
    for _ in range(8):  # the definition, written out
        nxt = model(idx)[0][:, -1].argmax(-1, keepdim=True)
        idx = torch.cat([idx, nxt], 1)
    assert torch.equal(out, idx)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(temperature=0),
        dict(temperature=1.0, seed=3),
        dict(temperature=0.8, top_k=5, seed=1),
        dict(temperature=1.2, top_p=0.9, seed=2),
    ],
)
def test_kv_cache_gives_the_same_tokens(model, kwargs):
    """Token for token, for a batch of two prompts, past the context (the cache is rebuilt)."""
    prompt = torch.tensor([[5, 6, 7, 8], [9, 1, 2, 3]])
    with_cache = generate(model, prompt, 40, use_cache=True, **kwargs)  # 44 > block_size: crops too
    without = generate(model, prompt, 40, use_cache=False, **kwargs)
    assert with_cache.shape == (2, 44)
    assert torch.equal(with_cache, without)
    assert torch.equal(with_cache[:, :4], prompt)


def test_seed_reproducible_and_varies(model):
    a = generate(model, [1], 20, seed=0)
    assert torch.equal(a, generate(model, [1], 20, seed=0))
    assert any(not torch.equal(generate(model, [1], 20, seed=s), a) for s in (1, 2, 3))


def test_input_forms_and_long_prompt(model):
    long_prompt = list(range(40)) * 2  # 80 tokens, context 24: cropped to the last 24
    out = generate(model, long_prompt, 3, temperature=0)  # a list is one prompt: (1, T + 3)
    assert out.shape == (1, 83) and out[0, :80].tolist() == long_prompt
    assert torch.equal(out[:, 80:], generate(model, long_prompt[-24:], 3, temperature=0)[:, 24:])
    one_d = generate(model, torch.tensor([1, 2]), 2, temperature=0)
    assert one_d.shape == (1, 4)  # always (B, T + n)
    batch = generate(model, torch.tensor([[1, 2], [3, 4]]), 5, temperature=0)
    assert batch.shape == (2, 7)
    assert torch.equal(batch[1:], generate(model, [3, 4], 5, temperature=0))
    with pytest.raises(ValueError, match="at least one token"):
        generate(model, [], 3)


def test_generation_restores_training_mode():
    m = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=1, n_embd=8, dropout=0.1))
    m.train()
    generate(m, [1, 2], 3, seed=0)
    assert m.training


def test_next_token_distributions_trace(model):
    trace = next_token_distributions(model, [1, 2, 3], 6, temperature=0.9, top_k=10, seed=4)
    assert trace.prompt == [1, 2, 3]
    out = generate(model, [1, 2, 3], 6, temperature=0.9, top_k=10, seed=4)
    assert trace.tokens == out[0, 3:].tolist()
    with torch.no_grad():  # the model's own distribution at each step, without a cache
        want = torch.stack([model(out[:, :t])[0][0, -1].softmax(-1) for t in range(3, 9)])
    torch.testing.assert_close(trace.model_probs, want, atol=1e-5, rtol=1e-5)
    assert trace.probs.shape == (6, 40) and trace.model_probs.shape == (6, 40)
    torch.testing.assert_close(trace.probs.sum(-1), torch.ones(6))
    assert ((trace.probs > 0).sum(-1) <= 10).all()
    chosen = trace.probs[torch.arange(6), torch.tensor(trace.tokens)]
    assert (chosen > 0).all()


def test_kv_cache_speedup_reports_same_output(model):
    r = kv_cache_speedup(model, [1, 2, 3], 10, repeats=1)
    assert r["same_output"] is True
    assert r["tokens_per_s_with_cache"] > 0 and r["tokens_per_s_without_cache"] > 0


def test_generation_figures_have_one_slider_step_per_generation_step(model):
    from llmlab.plots.generation import next_token_figure, sampling_explorer_figure

    decode = lambda ids: "".join(chr(97 + i % 26) for i in ids)  # noqa: E731
    trace = next_token_distributions(model, [1, 2], 5, seed=0)
    fig = next_token_figure(trace, decode, top=4)
    assert len(fig.layout.sliders[0].steps) == 5
    colors = fig.layout.sliders[0].steps[2].args[0]["marker.color"][0]
    assert colors.count("#e4572e") == 1  # exactly one chosen token highlighted
    logits = model(torch.tensor([[1, 2]]))[0][0, -1]
    fig = sampling_explorer_figure(logits, decode, top=10)
    assert len(fig.layout.sliders) == 3 and len(fig.data) == 6


def test_timed_generation_returns_the_greedy_tokens(model):
    tokens, seconds = timed_generation(model, [1, 2, 3], 5, use_cache=False, repeats=2)
    assert torch.equal(tokens, generate(model, [1, 2, 3], 5, temperature=0)) and seconds > 0
    with pytest.raises(ValueError, match="repeats"):
        timed_generation(model, [1], 2, repeats=0)


def test_kv_cache_speedup_is_the_ratio_of_its_times(model):
    r = kv_cache_speedup(model, [1, 2, 3], 6, repeats=1)
    assert r["speedup"] == pytest.approx(r["seconds_without_cache"] / r["seconds_with_cache"])
    assert r["tokens_per_s_with_cache"] == pytest.approx(6 / r["seconds_with_cache"])


def test_forward_seconds_checks_the_context(model):
    assert forward_seconds(model, 1, repeats=1) > 0
    with pytest.raises(ValueError, match="context"):
        forward_seconds(model, CONFIG.block_size + 1)
