"""Checkers of lesson 04: right answers pass, typical wrong ones get the matching hint."""

import math

import torch

from llmlab.exercises import gpt as ex
from llmlab.gpt import GPT, count_parameters


def test_untrained_loss(capsys):
    uniform = torch.zeros(1, ex.LOSS_VOCAB)  # equal logits: every token gets the same probability
    measured = torch.nn.functional.cross_entropy(uniform, torch.tensor([0])).item()
    assert ex.check_untrained_loss(measured)
    assert not ex.check_untrained_loss(math.log2(ex.LOSS_VOCAB))
    assert "log2" in capsys.readouterr().out
    assert not ex.check_untrained_loss(None)


def test_parameter_count_against_a_real_model(capsys):
    right = count_parameters(GPT(ex.COUNT_CONFIG))["total"]
    assert right == sum(p.numel() for p in GPT(ex.COUNT_CONFIG).parameters())
    assert ex.check_parameter_count(right)
    c = ex.COUNT_CONFIG
    assert not ex.check_parameter_count(right + c.vocab_size * c.n_embd)
    assert "tied" in capsys.readouterr().out


def test_top_k(capsys):
    def good(logits, k):
        kth = torch.topk(logits, k).values[-1]
        return torch.softmax(logits.masked_fill(logits < kth, float("-inf")), -1)

    def unnormalised(logits, k):
        return torch.softmax(logits, -1).masked_fill(logits < torch.topk(logits, k).values[-1], 0)

    assert ex.check_top_k(good)
    assert not ex.check_top_k(unnormalised)
    assert "renormalise" in capsys.readouterr().out
    assert not ex.check_top_k(good(torch.randn(20), 3))


def test_kv_cache_bytes():
    assert ex.check_kv_cache_bytes(2 * 12 * 768 * 4)
    assert not ex.check_kv_cache_bytes(12 * 768 * 4)
