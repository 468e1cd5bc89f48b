"""llmlab.plots.sampling: temperature against torch's softmax, and the slider figure works without a kernel."""

import pytest
import torch

from llmlab.plots import sampling


def test_softmax_with_temperature_matches_torch():
    logits = torch.tensor([[3.0, 2.2, -1.0], [0.0, 0.5, 1.0]])  # (B=2, V=3)
    for t in (0.25, 1.0, 2.0):
        got = sampling.softmax_with_temperature(logits, t)
        torch.testing.assert_close(got, torch.nn.functional.softmax(logits / t, dim=-1))
        torch.testing.assert_close(got.sum(-1), torch.ones(2))
    # Lower temperature, sharper distribution.
    p_low = sampling.softmax_with_temperature(logits[0], 0.25)[0]
    p_high = sampling.softmax_with_temperature(logits[0], 2.0)[0]
    assert p_low > p_high


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sampling.softmax_with_temperature(torch.zeros(3), 0.0)


def test_figure_has_one_bar_trace_per_temperature_and_a_slider():
    words, logits = ["a", "b", "c"], [2.0, 1.0, 0.0]
    temps = (0.5, 1.0, 2.0)
    fig = sampling.temperature_figure(words, logits, temps, context="x")
    assert len(fig.data) == 3
    assert [t.visible for t in fig.data] == [False, True, False]  # starts at T = 1
    slider = fig.layout.sliders[0]
    assert [s.label for s in slider.steps] == ["0.5", "1", "2"]
    assert slider.steps[2].args[0]["visible"] == [False, False, True]
    for trace, t in zip(fig.data, temps, strict=True):
        expected = torch.softmax(torch.tensor(logits, dtype=torch.float64) / t, -1).tolist()
        assert trace.y == pytest.approx(expected, abs=1e-4)
    assert fig.layout.yaxis.range == (0, 1.08)


def test_figure_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="one score per word"):
        sampling.temperature_figure(["a", "b"], [1.0])
