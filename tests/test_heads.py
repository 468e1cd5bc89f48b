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
    assert k["word start"][0, 4].nonzero().flatten().tolist() == [3]  # word begins after the space at 2
    assert k["same char"][0, 5].nonzero().flatten().tolist() == [0, 3]  # earlier 1s
    assert k["after same char"][0, 5].nonzero().flatten().tolist() == [1, 4]  # what followed the earlier 1s


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
