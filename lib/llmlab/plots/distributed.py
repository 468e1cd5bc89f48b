"""Figures of lesson 08 (scaling out). Static matplotlib pictures.

- :func:`all_reduce_picture`: one global batch split over processes, each gradient, the all-reduce, one update.
- :func:`zero_bars`: model-state memory per device with DDP and the three ZeRO stages (log scale), a GPU's memory drawn across.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

PROCESS_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


def _box(ax, x, y, w, h, text, colour, size=9):
    ax.add_patch(
        FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=colour, ec="black", alpha=0.85)
    )
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, color="white")


def _arrow(ax, a, b):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, color="0.3"))


def all_reduce_picture(world_size: int = 2, batch_size: int = 8):
    """Data parallelism drawn left to right for ``world_size`` processes and a global batch of ``batch_size``."""
    share = batch_size // world_size
    fig, ax = plt.subplots(figsize=(11, 1.2 + 1.3 * world_size))
    rows = range(world_size)
    top = 1.3 * world_size
    _box(
        ax, 0.0, top / 2 - 0.5, 1.6, 1.0, f"global batch\n{batch_size} windows\n(same seed)", "0.45"
    )
    for r in rows:
        y = top - 1.3 * (r + 1) + 0.2
        c = PROCESS_COLOURS[r % len(PROCESS_COLOURS)]
        _arrow(ax, (1.65, top / 2), (2.3, y + 0.45))
        _box(ax, 2.35, y, 1.9, 0.9, f"process {r}: rows\n{r * share}..{(r + 1) * share - 1}", c)
        _box(ax, 4.7, y, 2.0, 0.9, f"full model copy\nloss_{r}, gradient g_{r}", c)
        _arrow(ax, (4.25, y + 0.45), (4.7, y + 0.45))
        _arrow(ax, (6.7, y + 0.45), (7.3, top / 2))
        _arrow(ax, (8.9, top / 2), (9.5, y + 0.45))
        _box(ax, 9.55, y, 1.9, 0.9, "same AdamW step\nsame new weights", c)
    terms = " + ".join(f"g_{r}" for r in rows)
    _box(ax, 7.3, top / 2 - 0.6, 1.6, 1.2, f"all-reduce\ng = ({terms}) / {world_size}", "#8172b3")
    ax.set_xlim(-0.1, 11.6)
    ax.set_ylim(-0.1, top + 0.1)
    ax.axis("off")
    ax.set_title(
        "Data parallelism: each process a share of the batch, gradients averaged, one update everywhere"
    )
    fig.tight_layout()
    return fig


def zero_bars(memory: dict[str, float], title: str, device_gb: float = 80.0):
    """Horizontal bars of bytes per device (``llmlab.distributed.zero_memory_per_device``), log scale, GB."""
    labels = list(memory)
    gb = [memory[k] / 1e9 for k in labels]
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.55 * len(labels)))
    bars = ax.barh(
        labels[::-1],
        gb[::-1],
        color=["#c44e52", "#dd8452", "#4c72b0", "#55a868"][: len(labels)][::-1],
    )
    for bar, value in zip(bars, gb[::-1], strict=True):
        ax.text(
            value * 1.08,
            bar.get_y() + bar.get_height() / 2,
            f"{value:,.1f} GB",
            va="center",
            fontsize=9,
        )
    ax.axvline(device_gb, color="black", linestyle="--", linewidth=1)
    ax.text(device_gb * 0.95, -0.75, f"one {device_gb:g} GB GPU", fontsize=9, ha="right")
    ax.set_ylim(-0.95, len(labels) - 0.5)
    ax.set_xscale("log")
    ax.set_xlim(min(gb) / 2, max(gb) * 4)
    ax.set(
        xlabel="model-state memory per device (GB, log scale; activations not counted)", title=title
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
