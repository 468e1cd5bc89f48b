"""A diagram of one transformer block (pre-LN, as ``llmlab.gpt.Block`` and GPT-2), drawn with matplotlib.

Lesson 03 draws it.

The residual stream runs left to right along the bottom; each sub-layer reads a
LayerNorm'd copy of it and *adds* its output back (the two ⊕):

    x = x + attn(ln_1(x))      # mixes positions
    x = x + mlp(ln_2(x))       # each position alone

A static figure, so it shows on GitHub and offline without a kernel.  With a
``GPTConfig`` the boxes carry the model's real sizes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

STREAM = "#555555"
COLOURS = {"norm": "#e8e8e8", "attn": "#cfe2f3", "mlp": "#fde2c8", "io": "#ffffff"}


def _box(ax, x, y, w, h, text, colour, fontsize=9):
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=colour,
            edgecolor="#333333",
            linewidth=1.2,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, colour=STREAM, width=1.4, style="-|>", connection="arc3"):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=12,
            color=colour,
            linewidth=width,
            connectionstyle=connection,
            shrinkA=0,
            shrinkB=0,
        )
    )


def _plus(ax, x, y):
    ax.add_patch(
        plt.Circle((x, y), 0.22, facecolor="white", edgecolor=STREAM, linewidth=1.6, zorder=3)
    )
    ax.text(x, y, "+", ha="center", va="center", fontsize=13, zorder=4)


def _sublayer(ax, y0, y1, x_norm, norm, x_box, box_width, colour, x_plus, text, formula):
    """One residual branch: stream -> LayerNorm -> sub-layer -> ⊕ back on the stream."""
    _arrow(ax, (x_norm, y0), (x_norm, y1 - 0.45))
    _box(ax, x_norm, y1, 1.5, 0.9, f"LayerNorm\n{norm}", COLOURS["norm"])
    left = x_box - box_width / 2
    _arrow(ax, (x_norm + 0.75, y1), (left, y1))
    _box(ax, x_box, y1, box_width, 1.25, text, colour)
    _arrow(ax, (left + box_width, y1), (x_plus, y1), style="-")
    _arrow(ax, (x_plus, y1), (x_plus, y0 + 0.22))
    _plus(ax, x_plus, y0)
    ax.text(x_box, y1 + 0.85, formula, ha="center", fontsize=10, family="monospace")


def draw_block(config=None, ax=None):
    """Draw one pre-LN transformer block with its residual stream; returns the matplotlib figure.

    ``config``: an ``llmlab.gpt.GPTConfig`` (optional) to label the boxes with real
    sizes (width C, heads, MLP width 4C); without it the labels are symbolic.
    """
    if config is not None:
        c, nh = config.n_embd, config.n_head
        width, heads, hidden = f"C = {c}", f"{nh} heads of {c // nh}", f"{c} → {4 * c}"
        back = f"{4 * c} → {c}"
    else:
        width, heads, hidden, back = "width C", "n_head heads", "C → 4C", "4C → C"
    if ax is None:
        fig, ax = plt.subplots(figsize=(12, 3.6), layout="constrained")
    else:
        fig = ax.figure
    y0, y1 = 0.0, 1.9  # the residual stream, and the row of sub-layers
    # residual stream
    _box(ax, 0.2, y0, 1.6, 0.9, f"x\n(B, T, C)\n{width}", COLOURS["io"])
    _arrow(ax, (1.0, y0), (6.28, y0), width=3.0)
    _arrow(ax, (6.72, y0), (12.28, y0), width=3.0)
    _arrow(ax, (12.72, y0), (13.7, y0), width=3.0)
    _box(ax, 14.5, y0, 1.6, 0.9, "x\n(B, T, C)\nto the next block", COLOURS["io"])
    ax.text(
        3.7,
        y0 - 0.35,
        "residual stream: each sub-layer adds to it, none replaces it",
        ha="center",
        va="top",
        fontsize=9,
        color=STREAM,
        style="italic",
    )
    # the two sub-layers: read the stream at x_norm, normalise, transform, add back at x_plus
    _sublayer(
        ax,
        y0,
        y1,
        x_norm=1.5,
        norm="ln_1",
        x_box=4.4,
        box_width=2.9,
        colour=COLOURS["attn"],
        x_plus=6.5,
        text=f"causal multi-head\nself-attention\n{heads}\n(mixes positions)",
        formula="x = x + attn(ln_1(x))",
    )
    _sublayer(
        ax,
        y0,
        y1,
        x_norm=7.8,
        norm="ln_2",
        x_box=10.55,
        box_width=2.8,
        colour=COLOURS["mlp"],
        x_plus=12.5,
        text=f"MLP (each position alone)\nLinear {hidden}\nGELU\nLinear {back}",
        formula="x = x + mlp(ln_2(x))",
    )
    ax.set_xlim(-0.8, 15.5)
    ax.set_ylim(-0.7, y1 + 1.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        "One transformer block (pre-LN, as GPT-2 and llmlab.gpt.Block); N blocks are stacked",
        fontsize=11,
    )
    return fig
