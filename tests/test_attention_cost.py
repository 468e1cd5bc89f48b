"""Tests for llmlab.attention_cost: the measured table of one attention layer, and the power-law fit."""

import pytest
import torch

from llmlab import attention_cost as ac


def test_measure_attention_cost_table():
    threads = torch.get_num_threads()
    rows = ac.measure_attention_cost([16, 64], d_model=32, n_heads=4, batch=2, repeats=1)
    assert torch.get_num_threads() == threads  # timed with one thread, then restored
    assert [r.seq_len for r in rows] == [16, 64]
    assert rows[1].weights_bytes == 2 * 4 * 64 * 64 * 4
    for r in rows:
        assert r.seconds > 0
        # the (B, nh, T, T) weights are created by the forward pass, so the peak includes them
        assert r.peak_bytes >= r.weights_bytes
    with pytest.raises(ValueError, match="positive lengths"):
        ac.measure_attention_cost([0])


def test_attention_vs_recurrent_fields():
    r = ac.attention_vs_recurrent(seq_len=8, d_model=16, n_heads=2, repeats=1)
    assert (r.seq_len, r.d_model, r.recurrent_steps) == (8, 16, 8)
    assert r.attention_seconds > 0 and r.recurrent_seconds > 0


def test_power_law_exponent_recovers_known_exponents():
    xs = [16, 32, 64, 128]
    assert ac.power_law_exponent(xs, [3 * x**2 for x in xs]) == pytest.approx(2.0)
    assert ac.power_law_exponent(xs, [5 * x for x in xs]) == pytest.approx(1.0)
    assert ac.power_law_exponent(xs, [7 * x**0.5 for x in xs]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least two"):
        ac.power_law_exponent([1], [1])
