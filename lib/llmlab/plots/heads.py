"""Charts of measured attention heads (lesson 03, section 7): pattern scores and ablations.

Both are matplotlib figures, so a saved notebook shows them as PNG images
(GitHub and offline pages included, no JavaScript).  The numbers come from
:mod:`llmlab.heads`: ``score_heads`` / ``name_heads`` and ``ablation_losses``.

- :func:`pattern_scores_figure`: one small ``layers x heads`` heatmap per pattern,
  colour = the weight the head puts on that pattern's keys (fixed 0..1 scale, so
  patterns compare), each cell labelled with its score; the even share of the
  pattern is in its title.
- :func:`ablation_figure`: one bar per head, the rise of the held-out loss when
  that head alone is switched off, coloured by the head's measured name.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

#: Bar colour of each head name; any other name gets grey.
NAME_COLOURS = {
    "mixed": "#9e9e9e",
    "previous-character head": "#1f77b4",
    "self head": "#2ca02c",
    "first head": "#8c564b",
    "word start head": "#ff7f0e",
    "same char head": "#9467bd",
    "after same char head": "#d62728",
}


def pattern_scores_figure(scores: dict[str, torch.Tensor], even: dict[str, float], title: str = ""):
    """Heatmaps of every head's score on every pattern; returns the matplotlib figure.

    ``scores[pattern]``: ``(L, H)`` mean weight on that pattern's keys; ``even[pattern]``:
    the score of attention spread evenly over the past.
    """
    patterns = list(scores)
    L, H = next(iter(scores.values())).shape
    cols = min(3, len(patterns))
    rows = -(-len(patterns) // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(3.4 * cols, 0.55 * L * rows + 1.2 * rows),
        squeeze=False,
        layout="constrained",
    )
    image = None
    for ax, pattern in zip(axes.flat, patterns, strict=False):
        values = scores[pattern].detach().float().cpu().numpy()  # (L, H)
        image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.grid(False)
        for layer in range(L):
            for head in range(H):
                v = values[layer, head]
                ax.text(
                    head,
                    layer,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if v > 0.5 else "black",
                )
        ax.set_title(f"{pattern}\n(even share {even[pattern]:.2f})", fontsize=9)
        ax.set_xticks(range(H), [str(h) for h in range(H)])
        ax.set_yticks(range(L), [str(layer) for layer in range(L)])
        ax.set_xlabel("head", fontsize=8)
        ax.set_ylabel("layer", fontsize=8)
    for ax in list(axes.flat)[len(patterns) :]:
        ax.axis("off")
    assert image is not None  # at least one pattern was drawn
    fig.colorbar(image, ax=axes, shrink=0.8, label="mean weight on the pattern's keys")
    fig.suptitle(title or "Weight each head puts on each pattern (held-out passages)", fontsize=11)
    return fig


def ablation_figure(
    loss_change: torch.Tensor,
    names: dict[tuple[int, int], str],
    base_loss: float | None = None,
    title: str = "",
):
    """Bars of the loss change when each head alone is switched off; returns the matplotlib figure.

    ``loss_change``: ``(L, H)`` (nats per token); ``names``: ``{(layer, head): name}``.
    """
    L, H = loss_change.shape
    values = loss_change.detach().float().cpu().numpy().reshape(-1)  # (L*H,)
    labels = [f"L{layer}\nH{head}" for layer in range(L) for head in range(H)]
    colours = [
        NAME_COLOURS.get(names[layer, head], "#9e9e9e") for layer in range(L) for head in range(H)
    ]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * L * H + 1.5), 3.6), layout="constrained")
    x = np.arange(L * H)
    ax.bar(x, values, color=colours)
    for xi, v in zip(x, values, strict=True):
        ax.text(
            float(xi), max(v, 0.0), f"{v:+.3f}", ha="center", va="bottom", fontsize=7, rotation=90
        )  # above the axis
    ax.axhline(0, color="black", linewidth=0.8)
    for layer in range(1, L):
        ax.axvline(layer * H - 0.5, color="#cccccc", linewidth=0.8)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_xlabel("layer (L) and head (H) switched off")
    ax.set_ylabel("held-out loss change\n(nats per character)")
    ax.set_ylim(min(0.0, values.min() * 1.3), values.max() * 1.3 + 1e-3)
    used = dict.fromkeys(names[layer, head] for layer in range(L) for head in range(H))
    handles = [plt.Rectangle((0, 0), 1, 1, color=NAME_COLOURS.get(n, "#9e9e9e")) for n in used]
    ax.legend(
        handles,
        list(used),
        fontsize=8,
        loc="upper right",
        title="name (from its weights)",
        title_fontsize=8,
    )
    base = f" (loss with every head on: {base_loss:.3f})" if base_loss is not None else ""
    ax.set_title(
        title
        or f"How much the model needs each head: loss rise when it alone is switched off{base}",
        fontsize=10,
    )
    return fig
