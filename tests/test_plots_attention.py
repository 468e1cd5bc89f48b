"""Tests for llmlab.plots.attention: figure structure (axes, fixed 0..1 scale, traces and
slider steps) and clear errors on bad input."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from llmlab.plots import attention as pa  # noqa: E402

TOKENS = ["the", "cat", "sat", "on", "the", "mat"]


def _weights(T=6, causal=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(T, T, generator=g)
    if causal:
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(scores, dim=-1)


def _maps(n_layer=3, n_head=2, T=6):
    return torch.stack(
        [torch.stack([_weights(T, seed=10 * i + h) for h in range(n_head)]) for i in range(n_layer)]
    )


def test_heatmap_structure():
    fig = pa.attention_heatmap(_weights(), TOKENS, title="one head")
    (trace,) = fig.data
    assert trace.type == "heatmap"
    assert (trace.zmin, trace.zmax) == (0.0, 1.0)
    assert np.asarray(trace.z).shape == (6, 6)
    # queries on rows (y), keys on columns (x), every token kept even when repeated ("the" twice)
    assert list(fig.layout.xaxis.ticktext) == TOKENS
    assert list(fig.layout.yaxis.ticktext) == TOKENS
    assert list(fig.layout.xaxis.tickvals) == list(range(6))
    assert "key" in fig.layout.xaxis.title.text and "query" in fig.layout.yaxis.title.text
    assert fig.layout.title.text == "one head"
    assert trace.text is not None  # small matrices are annotated with their weights


def test_heatmap_cross_attention_and_whitespace_tokens():
    w = torch.softmax(torch.randn(2, 3), dim=-1)
    fig = pa.attention_heatmap(w, ["a", " "], key_tokens=["x", "\n", "z"])
    assert list(fig.layout.yaxis.ticktext) == ["a", "␣"]
    assert list(fig.layout.xaxis.ticktext) == ["x", "↵", "z"]


def test_heatmap_bad_input():
    with pytest.raises(ValueError, match="must be square"):
        pa.attention_heatmap(torch.softmax(torch.randn(3, 4), -1), ["a", "b", "c"])
    with pytest.raises(ValueError, match="5 query labels for 6 query positions"):
        pa.attention_heatmap(_weights(), TOKENS[:5])
    with pytest.raises(ValueError, match="between 0 and 1"):
        pa.attention_heatmap(torch.randn(6, 6) * 5, TOKENS)
    with pytest.raises(ValueError, match="one head"):
        pa.attention_heatmap(_maps(), TOKENS)


def test_score_and_vector_heatmaps():
    scores = torch.randn(6, 6).masked_fill(
        ~torch.ones(6, 6, dtype=torch.bool).tril(), float("-inf")
    )
    fig = pa.score_heatmap(scores, TOKENS)
    trace = fig.data[0]
    assert trace.zmin == -trace.zmax  # diverging scale centred on 0
    assert trace.text[0][5] == "−∞"  # a masked cell
    fig = pa.vector_heatmap(torch.randn(6, 4), TOKENS, dim_name="dim")
    assert list(fig.layout.xaxis.ticktext) == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="square"):
        pa.score_heatmap(torch.randn(6, 5), TOKENS)
    with pytest.raises(ValueError, match="4 token labels for 6"):
        pa.vector_heatmap(torch.randn(6, 4), TOKENS[:4])


def test_model_view_traces_and_slider():
    maps = _maps(n_layer=3, n_head=2)
    fig = pa.attention_model_view(maps, TOKENS)
    assert len(fig.data) == 2  # one heatmap per head
    assert all(t.type == "heatmap" and t.coloraxis == "coloraxis" for t in fig.data)
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    (slider,) = fig.layout.sliders
    assert len(slider.steps) == 3  # one step per layer
    # step l restyles both heads with layer l's weights
    step = slider.steps[2]
    assert step.method == "restyle"
    assert np.allclose(step.args[0]["z"][1], maps[2, 1].numpy(), atol=1e-3)
    assert list(step.args[1]) == [0, 1]
    assert list(fig.layout.xaxis.ticktext) == TOKENS


def test_model_view_bad_input():
    with pytest.raises(ValueError, match="pick one sequence of the batch"):
        pa.attention_model_view(_maps()[:, None], TOKENS)
    with pytest.raises(ValueError, match="square"):
        pa.attention_model_view(torch.softmax(torch.randn(2, 2, 6, 5), -1), TOKENS)
    with pytest.raises(ValueError, match="5 token labels for 6"):
        pa.attention_model_view(_maps(), TOKENS[:5])
    with pytest.raises(ValueError, match="layer must be between 0 and 2"):
        pa.attention_model_view(_maps(), TOKENS, layer=3)


def test_matplotlib_grid():
    import matplotlib.pyplot as plt

    fig = pa.attention_grid_matplotlib(_maps(n_layer=3, n_head=2), TOKENS)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 6  # layers x heads
    assert all(ax.images[0].get_clim() == (0.0, 1.0) for ax in panels)
    assert [t.get_text() for t in panels[-1].get_xticklabels()] == TOKENS
    assert panels[0].get_title() == "head 0"
    plt.close(fig)
    with pytest.raises(ValueError, match="square"):
        pa.attention_grid_matplotlib(torch.rand(2, 2, 6, 5), TOKENS)
