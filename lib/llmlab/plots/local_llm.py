"""Figures of lesson 07 (running an LLM on your own machine). Static matplotlib pictures.

- :func:`training_curves`: validation loss of the GPT-2-style and LLaMA-style models against steps and seconds.
- :func:`block_picture`: one block of 32 weights, its float values and their Q8_0 / Q4_0 codes.
- :func:`error_histograms`: the quantization error of chosen layers, one panel per layer, one colour per format.
- :func:`layer_errors`: the relative error of every linear layer, for each format.
- :func:`memory_bars`: LLaMA 2's weights and KV cache per format, with laptop memory sizes drawn across.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

#: One colour per storage format, the same in every figure of the lesson.
FORMAT_COLOURS = {
    "int8 per row": "#8172b3",
    "Q8_0": "#4c72b0",
    "Q4_0": "#dd8452",
    "PyTorch dynamic int8": "#55a868",
}
MODEL_COLOURS = {"GPT": "#1f77b4", "LLaMA": "#d62728"}


def _colour(label: str, table: dict[str, str], i: int) -> str:
    for key, colour in table.items():
        if key in label:
            return colour
    return plt.rcParams["axes.prop_cycle"].by_key()["color"][i % 10]


def training_curves(runs: Sequence[dict]):
    """Two panels: validation loss against optimizer steps, and against wall-clock seconds.

    ``runs``: dicts with ``label``, ``evals`` (``[{"step", "val_loss"}, ...]``) and ``step_seconds``
    (the seconds at which each step ended), as ``scripts/train_llama_model.py`` records them.
    """
    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for i, run in enumerate(runs):
        colour = _colour(run["label"], MODEL_COLOURS, i)
        steps = [e["step"] for e in run["evals"]]
        loss = [e["val_loss"] for e in run["evals"]]
        secs = [0.0 if s == 0 else run["step_seconds"][s - 1] for s in steps]
        by_step.plot(steps, loss, "o-", color=colour, label=run["label"])
        by_time.plot(secs, loss, "o-", color=colour, label=run["label"])
    by_step.set(
        xlabel="optimizer step",
        ylabel="validation loss (nats per character)",
        title="Loss against steps",
    )
    by_time.set(
        xlabel="wall-clock seconds of training (evaluations excluded)", title="Loss against time"
    )
    by_step.legend()
    for ax in (by_step, by_time):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def block_picture(block: np.ndarray, decoded: dict[str, np.ndarray]):
    """One block of 32 weights (grey bars) and what each format gives back (markers), with the errors below."""
    x = np.arange(len(block))
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    top.bar(x, block, color="#cccccc", label="float32 weight")
    for i, (name, values) in enumerate(decoded.items()):
        colour = _colour(name, FORMAT_COLOURS, i)
        top.plot(x, values, "o", ms=5, color=colour, label=f"{name}, dequantized")
        bottom.plot(x, values - block, "o-", ms=3, color=colour, label=name)
    top.set(ylabel="weight", title="One block of 32 weights and its quantized copies")
    top.legend(fontsize=8, ncol=3)
    bottom.axhline(0, color="black", lw=0.5)
    bottom.set(xlabel="position in the block", ylabel="error")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def error_histograms(
    errors: dict[str, dict[str, np.ndarray]], layers: Sequence[str], bins: int = 60
):
    """``errors[format][layer]``: flattened ``dequantized - original``; one panel per layer of ``layers``."""
    fig, axes = plt.subplots(1, len(layers), figsize=(4 * len(layers), 3.4))
    axes = np.atleast_1d(axes)
    for ax, layer in zip(axes, layers, strict=True):
        span = max(float(np.abs(errors[f][layer]).max()) for f in errors)
        edges = np.linspace(-span, span, bins + 1)
        for i, (fmt, per_layer) in enumerate(errors.items()):
            ax.hist(
                per_layer[layer],
                bins=edges,
                histtype="step",
                lw=1.5,
                color=_colour(fmt, FORMAT_COLOURS, i),
                label=fmt,
            )
        ax.set(title=layer, xlabel="dequantized - original weight", yscale="log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("number of weights (log scale)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def layer_errors(relative: dict[str, dict[str, float]]):
    """``relative[format][layer]`` = RMS error / RMS weight, one bar group per layer."""
    formats = list(relative)
    layers = list(next(iter(relative.values())))
    x = np.arange(len(layers))
    width = 0.8 / len(formats)
    fig, ax = plt.subplots(figsize=(max(8, 0.38 * len(layers)), 3.8))
    for i, fmt in enumerate(formats):
        ax.bar(
            x + i * width,
            [100 * relative[fmt][name] for name in layers],
            width,
            color=_colour(fmt, FORMAT_COLOURS, i),
            label=fmt,
        )
    ax.set_xticks(x + 0.4 - width / 2, layers, rotation=90, fontsize=7)
    top = max(100 * v for per in relative.values() for v in per.values())
    ax.set(
        xlabel="linear layer (its parameter name in the model)",
        ylabel="RMS error / RMS weight (%)",
        title="Quantization error of every linear layer",
        ylim=(0, 1.3 * top),
    )
    ax.legend(ncol=len(formats), loc="upper left")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def memory_bars(rows, laptops_gb: Sequence[int] = (8, 16, 32)):
    """Stacked bars (weights + KV cache, GB) per model and format for the published attention; laptops as lines.

    ``rows``: ``llmlab.inference.inference_memory_table()``.
    """
    shown = [r for r in rows if r.published]
    labels = [f"{r.model.replace('LLaMA 2 ', '')}\n{r.weights_format.split(' ')[0]}" for r in shown]
    x = np.arange(len(shown))
    weights = np.array([r.weights for r in shown]) / 1e9
    kv = np.array([r.kv_cache for r in shown]) / 1e9
    fig, ax = plt.subplots(figsize=(10, 4.2))
    ax.bar(x, weights, color="#4c72b0", label="weights")
    ax.bar(x, kv, bottom=weights, color="#dd8452", label="KV cache, 4,096 tokens (16-bit)")
    for gb in laptops_gb:
        ax.axhline(gb, color="black", lw=0.8, ls="--")
        ax.text(len(shown) - 0.5, gb, f" {gb} GB laptop", va="bottom", ha="right", fontsize=8)
    ax.set_xticks(x, labels, fontsize=8)
    # log scale from 1 GB, so that a 4 GB bar and a 140 GB bar both read
    ax.set(
        ylabel="GB (10^9 bytes, log scale)",
        yscale="log",
        ylim=(1, 1.5 * max(weights + kv)),
        title="Memory to run LLaMA 2 (model and format)",
    )
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
