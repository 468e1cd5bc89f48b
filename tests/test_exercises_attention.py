"""Tests for the lesson 03 checkers: right answers pass, typical wrong answers get the matching hint."""

import math

import torch

from llmlab.exercises import attention as ex


def test_attention_row(capsys):
    # by hand: scores q·k = [1, 3, 4], / sqrt(4) = [0.5, 1.5, 2.0], softmax
    e = [math.exp(s) for s in (0.5, 1.5, 2.0)]
    right = [x / sum(e) for x in e]
    assert ex.check_attention_row(right)
    assert ex.check_attention_row(torch.tensor(right))
    e_unscaled = [math.exp(s) for s in (1.0, 3.0, 4.0)]
    assert not ex.check_attention_row([x / sum(e_unscaled) for x in e_unscaled])
    assert "sqrt(d_k)" in capsys.readouterr().out
    assert not ex.check_attention_row([0.5, 1.5, 2.0])
    assert "softmax" in capsys.readouterr().out
    assert not ex.check_attention_row([0.5, 0.5])
    assert "give 3 weights" in capsys.readouterr().out
    assert not ex.check_attention_row(None)
    assert "placeholder" in capsys.readouterr().out


def test_causal_mask(capsys):
    right = torch.tril(torch.ones(5, 5, dtype=torch.bool))
    assert ex.check_causal_mask(right)
    assert ex.check_causal_mask(right.int().tolist())  # 1/0 lists are accepted
    from llmlab.attention import causal_mask

    assert ex.check_causal_mask(causal_mask(5))  # the library's mask is the right answer
    capsys.readouterr()
    assert not ex.check_causal_mask(~right)
    assert "Flip it" in capsys.readouterr().out
    assert not ex.check_causal_mask(right.T)
    assert "future" in capsys.readouterr().out
    assert not ex.check_causal_mask(torch.tril(torch.ones(5, 5, dtype=torch.bool), -1))
    assert "itself" in capsys.readouterr().out
    assert not ex.check_causal_mask(torch.ones(4, 4, dtype=torch.bool))
    assert "shape (5, 5)" in capsys.readouterr().out


def test_block_parameter_formula_matches_the_gpt_block():
    from llmlab.gpt import Block, GPTConfig

    for d, heads, bias in [(64, 4, True), (48, 3, False), (32, 1, True)]:
        block = Block(
            GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=heads, n_embd=d, bias=bias)
        )
        assert sum(p.numel() for p in block.parameters()) == ex.block_parameter_count(d, bias=bias)


def test_block_parameters(capsys):
    d = ex.BLOCK_D_MODEL
    # by hand for d = 64: attention 4 (64*64 + 64) = 16,640; MLP 64*256 + 256 + 256*64 + 64 = 33,088;
    # two LayerNorms 2 (64 + 64) = 256; total 49,984
    assert ex.block_parameter_count(d) == 16_640 + 33_088 + 256 == 49_984
    assert ex.check_block_parameters(49_984)
    capsys.readouterr()
    assert not ex.check_block_parameters(ex.block_parameter_count(d, bias=False))
    assert "bias" in capsys.readouterr().out
    assert not ex.check_block_parameters(49_984 - 256)
    assert "LayerNorm" in capsys.readouterr().out
    assert not ex.check_block_parameters(49_984 - (64 * 64 + 64))
    assert "four projections" in capsys.readouterr().out
    assert not ex.check_block_parameters(12.5)
    assert "whole number" in capsys.readouterr().out
    assert not ex.check_block_parameters("many")
    assert "could not be checked" in capsys.readouterr().out
