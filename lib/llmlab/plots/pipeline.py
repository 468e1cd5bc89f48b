"""The course map: a transformer language model as the four steps the course follows (lesson 00).

    text -> tokens -> 1. word embedding -> 2. positional encoding
         -> 3. transformer blocks (self-attention + feed-forward, N times)
         -> 4. text generation (next-token probabilities, pick one, append, repeat)

The steps are those of the decoder-only transformer of Radford et al. (2018,
"Improving Language Understanding by Generative Pre-Training"), built from the
blocks of Vaswani et al. (2017, "Attention Is All You Need", Figure 1).
Which lesson covers which step comes from ``llmlab.course.LESSONS``.

``draw_pipeline()`` returns the matplotlib figure; ``save_pipeline()`` writes
the PNG kept in the repository (``images/transformer_pipeline.png``):

    python -m llmlab.plots.pipeline            # rewrites images/transformer_pipeline.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from llmlab import course

#: The four steps: (number, title, what happens, fill colour).
STEPS = [
    ("1", "Word embedding", "each token becomes a vector\n(one row of a learned table)", "#dbe9f6"),
    (
        "2",
        "Positional encoding",
        "add a vector for each position,\nso word order is known",
        "#e3f1dc",
    ),
    ("3", "Transformer blocks \u00d7 N", "", "#fbe5cc"),
    (
        "4",
        "Text generation",
        "probabilities for the next token;\npick one, append it, repeat",
        "#efdff3",
    ),
]

_EDGE = "#4a4a4a"
_TEXT = "#1f1f1f"
_LOOP = "#7b4f9e"


def lesson_for_step(number: str) -> course.Lesson | None:
    """The lesson whose ``step`` starts with ``"<number>."`` (e.g. "3" -> 03_attention)."""
    for item in course.LESSONS:
        if item.step.startswith(f"{number}."):
            return item
    return None


def _box(ax, x, y, w, h, color, lw=1.4, radius=0.12, **kw):
    patch = FancyBboxPatch(
        (x, y),
        w,
        h,
        boxstyle=f"round,pad=0,rounding_size={radius}",
        linewidth=lw,
        edgecolor=_EDGE,
        facecolor=color,
        **kw,
    )
    ax.add_patch(patch)
    return patch


def _arrow(ax, start, end, text=None, rad=0.0, offset=(0, 0.13), color=_EDGE, style="-|>", lw=1.6):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=14,
            linewidth=lw,
            color=color,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=0,
            shrinkB=0,
        )
    )
    if text:
        mid = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*mid, text, ha="center", va="bottom", fontsize=8.5, color="#555555", style="italic")


def draw_pipeline(prompt: str = "The cat sat", next_token: str = " on") -> Figure:
    """Draw the transformer pipeline with the lesson that covers each step; returns the figure.

    ``prompt`` is the example input shown on the left, ``next_token`` the
    token the model appends on the right.  Nothing is computed: this is a map.
    """
    fig, ax = plt.subplots(figsize=(12.95, 3.95), dpi=100)
    ax.set_xlim(0, 12.95)
    ax.set_ylim(0, 3.45)
    ax.set_axis_off()
    fig.subplots_adjust(left=0.0, right=1.0, top=0.873, bottom=0.0)
    fig.suptitle(
        "A transformer language model, in the four steps this course follows",
        fontsize=13,
        fontweight="bold",
        color=_TEXT,
        y=0.955,
    )

    y0, h = 1.32, 1.95  # the row of boxes
    # Input text.
    _box(ax, 0.10, y0 + 0.45, 1.25, 1.05, "#f2f2f2", lw=1.0)
    ax.text(0.725, y0 + 1.22, "input text", ha="center", va="center", fontsize=9, color="#555555")
    ax.text(
        0.725,
        y0 + 0.80,
        f"\u201c{prompt}\u201d",
        ha="center",
        va="center",
        fontsize=10.5,
        color=_TEXT,
    )

    # The four steps.
    xs = [1.95, 4.60, 7.25, 10.30]
    widths = [2.30, 2.30, 2.70, 2.30]
    for (number, title, what, color), x, w in zip(STEPS, xs, widths, strict=True):
        _box(ax, x, y0, w, h, color)
        ax.text(
            x + w / 2,
            y0 + h - 0.28,
            f"{number}. {title}",
            ha="center",
            va="center",
            fontsize=11,
            fontweight="bold",
            color=_TEXT,
        )
        if what:
            ax.text(
                x + w / 2,
                y0 + h / 2 - 0.12,
                what,
                ha="center",
                va="center",
                fontsize=9,
                color=_TEXT,
                linespacing=1.35,
            )
        item = lesson_for_step(number)
        label = f"Lesson {item.stem[:2]}\n{item.title}" if item else "(no lesson yet)"
        ax.text(
            x + w / 2,
            y0 - 0.12,
            label,
            ha="center",
            va="top",
            fontsize=8.8,
            color="#333333",
            linespacing=1.3,
        )

    # Inside step 3: self-attention and feed-forward, repeated N times.
    x3, w3 = xs[2], widths[2]
    inner_w, inner_h = w3 - 0.5, 0.52
    for y, label in [
        (y0 + 0.90, "self-attention\n(each token looks at earlier ones)"),
        (y0 + 0.18, "feed-forward network\n(each token on its own)"),
    ]:
        _box(ax, x3 + 0.25, y, inner_w, inner_h, "#ffffff", lw=1.0, radius=0.08)
        ax.text(
            x3 + w3 / 2,
            y + inner_h / 2,
            label,
            ha="center",
            va="center",
            fontsize=8.6,
            color=_TEXT,
            linespacing=1.2,
        )
    _arrow(ax, (x3 + w3 / 2, y0 + 0.90), (x3 + w3 / 2, y0 + 0.18 + inner_h), lw=1.1)

    # Arrows between the steps.
    mid = y0 + h / 2
    _arrow(ax, (1.35, mid), (xs[0], mid), "tokens")
    _arrow(ax, (xs[0] + widths[0], mid), (xs[1], mid))
    _arrow(ax, (xs[1] + widths[1], mid), (xs[2], mid))
    _arrow(ax, (xs[2] + widths[2], mid), (xs[3], mid))

    # Output, and the loop back to the input: autoregression.
    x4, w4 = xs[3], widths[3]
    ax.text(
        x4 + w4 / 2,
        y0 + 0.30,
        f"\u201c{prompt}\u201d + \u201c{next_token}\u201d",
        ha="center",
        va="center",
        fontsize=10,
        color=_TEXT,
        bbox=dict(
            boxstyle="round,pad=0.25", facecolor="#ffffff", edgecolor="#999999", linewidth=0.8
        ),
    )
    loop_y, right = 0.50, 12.80
    ax.plot(
        [x4 + w4, right, right, 0.725],
        [y0 + 0.55, y0 + 0.55, loop_y, loop_y],
        color=_LOOP,
        linewidth=1.4,
        solid_capstyle="butt",
    )
    _arrow(ax, (0.725, loop_y), (0.725, y0 + 0.45), color=_LOOP, lw=1.4)
    ax.text(
        6.4,
        loop_y - 0.25,
        "autoregression: append the chosen token to the input and run the model again",
        ha="center",
        va="center",
        fontsize=9.5,
        color=_LOOP,
        style="italic",
    )
    return fig


def save_pipeline(path: str | Path) -> Path:
    """Draw the pipeline and save it as a PNG with no timestamp or version in its metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = draw_pipeline()
    fig.savefig(path, dpi=100, facecolor="white", metadata={"Software": None})
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    target = (
        Path(argv[0])
        if argv
        else Path(__file__).resolve().parents[3] / "images" / "transformer_pipeline.png"
    )
    save_pipeline(target)
    print(f"wrote {target.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
