"""llmlab.heads: scoring attention heads against key patterns, and switching a head off."""

import pytest
import torch

from llmlab import heads
from llmlab.attention import causal_mask
from llmlab.gpt import GPT, GPTConfig

SPACE = 0


def test_pattern_keys_on_a_known_sequence():
    ids = torch.tensor([[1, 2, SPACE, 1, 3, 1]])  # "ab a?a"-like: positions 0..5
    k = heads.pattern_keys(ids, SPACE)
    assert k["previous"][0, 4].nonzero().flatten().tolist() == [3]
    assert k["first"][0, 5].nonzero().flatten().tolist() == [0]
    assert k["word start"][0, 4].nonzero().flatten().tolist() == [
        3
    ]  # word begins after the space at 2
    assert k["same char"][0, 5].nonzero().flatten().tolist() == [0, 3]  # earlier 1s
    assert k["after same char"][0, 5].nonzero().flatten().tolist() == [
        1,
        4,
    ]  # what followed the earlier 1s


def test_a_previous_token_head_scores_one_and_uniform_gets_the_even_share():
    T = 12
    ids = torch.randint(1, 50, (3, T), generator=torch.Generator().manual_seed(0))
    prev = torch.zeros(T, T)
    prev[0, 0] = 1
    prev[torch.arange(1, T), torch.arange(T - 1)] = 1
    uniform = causal_mask(T).float() / torch.arange(1, T + 1)[:, None]
    maps = torch.stack([prev.expand(3, T, T), uniform.expand(3, T, T)])[None]  # (L=1, H=2, B, T, T)
    maps = maps.permute(0, 2, 1, 3, 4)  # (L, B, H, T, T) as GPT.attention_maps returns
    scores, even = heads.score_heads(maps, ids, SPACE)
    assert scores["previous"][0, 0].item() == pytest.approx(1.0)
    assert scores["previous"][0, 1].item() == pytest.approx(even["previous"])
    names = heads.name_heads(scores, even)
    assert names[0, 0] == "previous-character head"
    assert names[0, 1] == "mixed"


def test_ablating_a_head_changes_the_output_and_is_undone():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()
    x = torch.randint(11, (2, 16))
    with torch.no_grad():
        before = model(x)[0]
        with heads.ablate_head(model, 1, 0):
            ablated = model(x)[0]
        after = model(x)[0]
    assert not torch.allclose(before, ablated)
    assert torch.equal(before, after)
    with pytest.raises(ValueError, match="head must be"):
        with heads.ablate_head(model, 0, 5):
            pass


def _tiny_model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()


def test_ablation_losses_matches_ablating_by_hand():
    model = _tiny_model()
    x = torch.randint(11, (4, 16), generator=torch.Generator().manual_seed(1))

    def loss():
        with torch.no_grad():
            return model(x[:, :-1], targets=x[:, 1:])[1].item()

    change = heads.ablation_losses(model, loss)
    assert change.shape == (2, 2)
    base = loss()
    with heads.ablate_head(model, 1, 1):
        by_hand = loss() - base
    assert change[1, 1].item() == pytest.approx(by_hand)
    assert loss() == pytest.approx(base)  # every head back on afterwards


def test_findings_state_what_was_measured():
    scores = {
        "previous": torch.tensor([[0.9, 0.1], [0.1, 0.2]]),
        "self": torch.tensor([[0.05, 0.2], [0.1, 0.25]]),
    }
    even = {"previous": 0.1, "self": 0.1}
    names = heads.name_heads(scores, even, threshold=0.3)
    assert names == {
        (0, 0): "previous-character head",
        (0, 1): "mixed",
        (1, 0): "mixed",
        (1, 1): "mixed",
    }
    change = torch.tensor([[0.8, 0.01], [0.002, 0.06]])
    text = " ".join(heads.findings(scores, even, names, change, threshold=0.3, small=0.05))
    assert (
        "1 of 4 heads put at least 30% of their weight on one pattern: layer 0 head 0 (previous-character head)"
        in text
    )
    assert (
        "The other 3 are 'mixed'" in text and "is 25%" in text
    )  # the largest share of a mixed head
    assert "layer 0 head 0 (previous-character head): +0.800" in text
    assert (
        "2 of 4 heads raise it by 0.05 or more when switched off (layer 0 head 0, layer 1 head 1)"
        in text
    )
    assert "The heads it needs that much sit in layers 0, 1 of 0..1." in text
    assert "1 of the 1 heads with a clear pattern are among those the model needs most" in text
