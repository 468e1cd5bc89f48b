"""llmlab.plots.heads and llmlab.plots.block: the figures draw what they are given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from llmlab.gpt import GPTConfig  # noqa: E402
from llmlab.plots import block, heads  # noqa: E402


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


def test_pattern_scores_figure_labels_every_cell_on_a_fixed_scale():
    scores = {"previous": torch.tensor([[0.66, 0.1], [0.2, 0.3]]), "self": torch.zeros(2, 2)}
    fig = heads.pattern_scores_figure(scores, {"previous": 0.05, "self": 0.05})
    texts = _texts(fig)
    assert "0.66" in texts and texts.count("0.00") == 4
    assert any("even share 0.05" in t for t in texts)
    image = fig.axes[0].images[0]
    assert image.get_clim() == (0, 1)
    plt.close(fig)


def test_ablation_figure_has_one_bar_per_head_coloured_by_name():
    change = torch.tensor([[1.125, 0.01], [0.002, -0.001]])
    names = {(0, 0): "previous-character head", (0, 1): "mixed", (1, 0): "mixed", (1, 1): "mixed"}
    fig = heads.ablation_figure(change, names, base_loss=1.456)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 4
    assert [round(b.get_height(), 3) for b in bars] == [1.125, 0.01, 0.002, -0.001]
    assert bars[0].get_facecolor() != bars[1].get_facecolor()
    assert "+1.125" in _texts(fig) and "1.456" in ax.get_title()
    plt.close(fig)


def test_block_diagram_names_its_parts_with_real_sizes():
    fig = block.draw_block(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=4, n_embd=64))
    text = " ".join(_texts(fig))
    for part in [
        "LayerNorm",
        "ln_1",
        "ln_2",
        "self-attention",
        "4 heads of 16",
        "Linear 64 → 256",
        "GELU",
        "x = x + attn(ln_1(x))",
        "x = x + mlp(ln_2(x))",
        "residual stream",
    ]:
        assert part in text, part
    plt.close(fig)
    symbolic = " ".join(_texts(block.draw_block()))
    assert "C → 4C" in symbolic
