"""Figures of lesson 05 (fine-tuning): the loss mask, accuracies, weight changes, LoRA, memory, RLHF.

- :func:`loss_mask_html`: an example with the characters that carry the loss highlighted.
- :func:`accuracy_bars`: exact-match accuracy per task kind, one bar group per model (0..1).
- :func:`loss_curves`: training loss per step of several runs (full fine-tuning, LoRA).
- :func:`weight_change_heatmap`: how far each weight matrix moved, layers x matrices.
- :func:`lora_diagram`: ``W0 + (alpha/r) B A`` drawn to scale for one layer.
- :func:`singular_values`: the spectrum of a learned update, full fine-tuning vs LoRA.
- :func:`memory_bars`: model-state memory of LLaMA 2 fine-tuning, stacked by part, one panel per model.
- :func:`rlhf_diagram`: Ouyang et al. (2022)'s three steps with their published data sizes.

Plotly figures need no kernel; matplotlib ones are static pictures.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from plotly.subplots import make_subplots

from llmlab.memory import lora_parameter_count

#: One colour per model/set-up, the same in every figure of the lesson.
MODEL_COLOURS = {"pretrained": "#9e9e9e", "full fine-tuning": "#1f77b4", "LoRA": "#ff7f0e"}
PART_COLOURS = {"weights": "#4c72b0", "gradients": "#dd8452", "optimizer": "#55a868"}


def _colour(name: str, i: int) -> str:
    for key, colour in MODEL_COLOURS.items():
        if name.startswith(key):
            return colour
    return ["#2ca02c", "#d62728", "#9467bd"][i % 3]


# ---------------------------------------------------------------- the data
def loss_mask_html(view: Sequence[tuple[str, bool]]) -> str:
    """HTML for ``llmlab.finetuning.loss_mask_view``: loss-carrying characters on green, the rest grey.

    Newlines are shown as ``↵`` and then break the line, so the template stays readable.
    """
    spans = []
    for ch, carries in view:
        shown = "↵" if ch == "\n" else html.escape(ch)
        style = (
            "background:#b7e4c7;color:#08361c;font-weight:bold"
            if carries
            else "background:#eeeeee;color:#777777"
        )
        spans.append(f'<span style="{style}">{shown}</span>' + ("<br>" if ch == "\n" else ""))
    legend = (
        '<span style="background:#eeeeee;color:#777777">&nbsp;prompt: no loss (target -100)&nbsp;</span> '
        '<span style="background:#b7e4c7;color:#08361c;font-weight:bold">&nbsp;response: carries the loss&nbsp;</span>'
    )
    return (
        f'<div style="font-family:monospace;font-size:14px;line-height:1.6">{"".join(spans)}</div>'
        f'<div style="font-size:12px;margin-top:4px">{legend}</div>'
    )


# ---------------------------------------------------------------- results
def accuracy_bars(
    results: dict[str, dict[str, float]], title: str = "Held-out exact-match accuracy per task kind"
) -> go.Figure:
    """Grouped bars: for each model (``results[name] = {kind: accuracy}``) one bar per task kind."""
    fig = go.Figure()
    for i, (name, acc) in enumerate(results.items()):
        kinds = list(acc)
        fig.add_bar(
            name=name,
            x=kinds,
            y=[acc[k] for k in kinds],
            marker_color=_colour(name, i),
            text=[f"{acc[k]:.0%}" for k in kinds],
            textposition="outside",
            hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>",
        )
    fig.update_layout(
        barmode="group",
        title=title,
        height=400,
        width=820,
        xaxis_title="task kind",
        yaxis_title="exact match (fraction of held-out examples)",
        legend=dict(orientation="h", y=-0.2),
    )
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%")
    return fig


def loss_curves(
    runs: dict[str, Sequence[float]],
    smooth: int = 10,
    title: str = "Fine-tuning loss (response tokens only)",
) -> go.Figure:
    """Training loss per optimizer step of each run, smoothed with a ``smooth``-step moving average."""
    fig = go.Figure()
    for i, (name, losses) in enumerate(runs.items()):
        y = np.asarray(losses, dtype=float)
        if smooth > 1 and len(y) >= smooth:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        x = np.arange(len(y)) + (smooth - 1 if smooth > 1 else 0)
        fig.add_scatter(
            x=x, y=np.round(y, 4), mode="lines", name=name, line=dict(color=_colour(name, i))
        )
    fig.update_layout(
        title=title,
        height=380,
        width=820,
        xaxis_title="optimizer step",
        yaxis_title=f"cross-entropy<br>(nats per response token, {smooth}-step mean)",
    )
    return fig


def weight_change_heatmap(
    rows: Sequence[dict], title: str = "How far full fine-tuning moved each weight matrix"
) -> go.Figure:
    """Heatmap of ``llmlab.finetuning.weight_change`` rows: layers on rows, matrices on columns."""

    def short(name: str) -> str:
        return name.rsplit(".", 2)[-2]  # "transformer.h.0.attn.q_proj.weight" -> "q_proj"

    layers = list(dict.fromkeys(r["layer"] for r in rows))
    mats = list(dict.fromkeys(short(r["name"]) for r in rows))
    z = np.full((len(layers), len(mats)), np.nan)
    for r in rows:
        z[layers.index(r["layer"]), mats.index(short(r["name"]))] = r["relative change"]
    text = [["" if np.isnan(v) else f"{v:.1%}" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=mats,
            y=layers,
            colorscale="Reds",
            zmin=0,
            text=text,
            texttemplate="%{text}",
            colorbar=dict(title="‖ΔW‖ / ‖W‖", tickformat=".0%"),
            hovertemplate="%{y}, %{x}<br>relative change %{z:.2%}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=120 + 45 * len(layers),
        width=820,
        xaxis_title="weight matrix",
        yaxis_title="layer",
    )
    fig.update_yaxes(autorange="reversed")
    return fig


# ---------------------------------------------------------------- LoRA
def lora_diagram(d: int, k: int, r: int, alpha: float, title: str | None = None):
    """``h = W0 x + (alpha/r) B A x`` drawn to scale for one ``d x k`` layer with rank ``r``.

    Returns a matplotlib figure: the frozen ``W0`` in grey, the trainable ``B (d x r)`` and
    ``A (r x k)`` in orange, with their parameter counts.
    """
    fig, ax = plt.subplots(figsize=(8.0, 3.6))
    s = 2.6 / max(d, k)  # inches of drawing per row/column
    r_draw = max(r, 2)  # a rank-1 strip would be invisible: draw at least 2 units wide
    y0 = 0.3
    # W0
    ax.add_patch(Rectangle((0, y0), k * s, d * s, color="#bdbdbd"))
    ax.text(
        k * s / 2,
        y0 + d * s / 2,
        f"$W_0$\n{d} x {k}\nfrozen\n{d * k:,} params",
        ha="center",
        va="center",
        fontsize=10,
    )
    x = k * s + 0.35
    ax.text(x, y0 + d * s / 2, "+", fontsize=22, ha="center", va="center")
    x += 0.35
    ax.text(
        x + 0.35,
        y0 + d * s / 2,
        r"$\frac{\alpha}{r}$" + f"\n= {alpha / r:g}",
        fontsize=12,
        ha="center",
        va="center",
    )
    x += 0.8
    # B (d x r)
    ax.add_patch(Rectangle((x, y0), r_draw * s, d * s, color="#ff7f0e"))
    ax.text(x + r_draw * s / 2, y0 - 0.12, f"B\n{d} x {r}", ha="center", va="top", fontsize=10)
    x += r_draw * s + 0.15
    ax.text(x + 0.05, y0 + d * s / 2, "x", fontsize=14, ha="center", va="center")
    x += 0.25
    # A (r x k), drawn at the top
    ax.add_patch(Rectangle((x, y0 + d * s - r_draw * s), k * s, r_draw * s, color="#ff7f0e"))
    ax.text(
        x + k * s / 2,
        y0 + d * s - r_draw * s - 0.12,
        f"A\n{r} x {k}",
        ha="center",
        va="top",
        fontsize=10,
    )
    trainable = lora_parameter_count([(d, k)], r)  # r (d + k)
    ax.text(
        x + k * s + 0.2,
        y0 + d * s / 2,
        f"trainable: r(d + k)\n= {trainable:,} params\n= {trainable / (d * k):.1%} of $W_0$",
        fontsize=10,
        va="center",
    )
    ax.set_xlim(-0.1, x + k * s + 2.4)
    ax.set_ylim(-0.6, y0 + d * s + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        title
        or f"LoRA on one {d} x {k} layer, rank r = {r}: only B and A are trained (B starts at 0)"
    )
    fig.tight_layout()
    return fig


def singular_values(
    updates: dict[str, np.ndarray],
    r: int | None = None,
    title: str = "Singular values of the learned update ΔW of one layer",
) -> go.Figure:
    """Singular values of each update matrix, largest first, as a fraction of the largest.

    A rank-``r`` LoRA update has exactly ``r`` non-zero singular values; the figure shows
    how many directions full fine-tuning used for the same layer.
    """
    fig = go.Figure()
    for i, (name, delta) in enumerate(updates.items()):
        sv = np.linalg.svd(np.asarray(delta, dtype=float), compute_uv=False)
        sv = sv / sv[0]
        fig.add_scatter(
            x=np.arange(1, len(sv) + 1),
            y=np.round(sv, 5),
            mode="lines+markers",
            marker=dict(size=4),
            name=name,
            line=dict(color=_colour(name, i)),
        )
    if r is not None:
        fig.add_vline(x=r, line_dash="dot", line_color="grey", annotation_text=f"r = {r}")
    fig.update_layout(
        title=title,
        height=380,
        width=820,
        xaxis_title="index of the singular value (largest first)",
        yaxis_title="singular value / largest (log scale)",
    )
    fig.update_yaxes(type="log", range=[-4, 0.1])
    return fig


# ---------------------------------------------------------------- memory at scale
#: Memory of the largest common single GPU (A100/H100, 80 GB), drawn as a dashed line.
GPU_GB = 80


def memory_bars(
    rows,
    unit: float = 1e9,
    title: str = "Model-state memory of fine-tuning LLaMA 2 (activations not included)",
) -> go.Figure:
    """Stacked bars (weights, gradients, optimizer states) in GB for ``llmlab.memory.scale_table`` rows.

    One panel per model (labels ``"<model>: <method>"``), each with its own y-axis, and
    dashed lines at common GPU memory sizes.
    """
    models = list(dict.fromkeys(r.label.split(": ")[0] for r in rows))
    fig = make_subplots(rows=1, cols=len(models), subplot_titles=models, horizontal_spacing=0.07)
    for c, model in enumerate(models, start=1):
        sub = [r for r in rows if r.label.startswith(model + ": ")]
        methods = [r.label.split(": ", 1)[1].replace(", ", "<br>", 1) for r in sub]
        for part in ("weights", "gradients", "optimizer"):
            vals = [getattr(r, part) / unit for r in sub]
            fig.add_bar(
                x=methods,
                y=vals,
                name=part,
                marker_color=PART_COLOURS[part],
                showlegend=c == 1,
                legendgroup=part,
                hovertemplate=f"{part}: %{{y:,.1f}} GB<extra>%{{x}}</extra>",
                row=1,
                col=c,
            )
        totals = [r.total / unit for r in sub]
        fig.add_scatter(
            x=methods,
            y=totals,
            mode="text",
            text=[f"{t:,.0f} GB" for t in totals],
            textposition="top center",
            showlegend=False,
            hoverinfo="skip",
            row=1,
            col=c,
        )
        fig.update_yaxes(range=[0, max(totals) * 1.15], row=1, col=c)
        fig.add_scatter(
            x=[methods[0], methods[-1]],
            y=[GPU_GB, GPU_GB],
            mode="lines",
            name=f"one {GPU_GB} GB GPU",
            line=dict(dash="dash", color="#555", width=1),
            showlegend=c == 1,
            legendgroup="gpu",
            hoverinfo="skip",
            row=1,
            col=c,
        )
    fig.update_layout(
        barmode="stack", title=title, height=480, width=980, legend=dict(orientation="h", y=-0.3)
    )
    fig.update_yaxes(title_text="memory (GB)", row=1, col=1)
    fig.update_xaxes(tickfont=dict(size=9))
    return fig


# ---------------------------------------------------------------- RLHF
#: Ouyang et al. 2022, section 3.2: "our SFT dataset contains about 13k training prompts
#: (from the API and labeler-written), our RM dataset has 33k training prompts (from the
#: API and labeler-written), and our PPO dataset has 31k training prompts (only from the API)."
RLHF_STEPS = (
    (
        "Step 1\nsupervised fine-tuning (SFT)",
        "A labeler writes the wanted\nanswer to a prompt.\nGPT-3 is fine-tuned on these\ndemonstrations (this lesson).",
        "about 13k prompts",
    ),
    (
        "Step 2\nreward model (RM)",
        "The SFT model answers a prompt\nK = 4 to 9 times; a labeler ranks\nthe answers. A 6B model learns\nto score answers like the ranks.",
        "about 33k prompts",
    ),
    (
        "Step 3\nreinforcement learning (PPO)",
        "The policy answers new prompts;\nthe RM scores each answer;\nPPO raises the score, with a KL\npenalty to stay near the SFT model.",
        "about 31k prompts",
    ),
)


def rlhf_diagram():
    """Ouyang et al. (2022, Figure 2)'s three steps of InstructGPT, with the published data sizes."""
    fig, ax = plt.subplots(figsize=(10.0, 3.8))
    w, h, gap = 3.0, 2.5, 0.5
    colours = ["#d0e1f2", "#fde0c5", "#d5efcf"]
    for i, (head, body, size) in enumerate(RLHF_STEPS):
        x = i * (w + gap)
        ax.add_patch(
            FancyBboxPatch(
                (x, 0),
                w,
                h,
                boxstyle="round,pad=0.05,rounding_size=0.15",
                facecolor=colours[i],
                edgecolor="#555",
            )
        )
        ax.text(x + w / 2, h - 0.22, head, ha="center", va="top", fontsize=10, fontweight="bold")
        ax.text(x + w / 2, h / 2 - 0.15, body, ha="center", va="center", fontsize=9)
        ax.text(
            x + w / 2,
            0.18,
            size,
            ha="center",
            va="bottom",
            fontsize=10,
            fontweight="bold",
            color="#a10000",
        )
        if i < len(RLHF_STEPS) - 1:
            ax.add_patch(
                FancyArrowPatch(
                    (x + w + 0.05, h / 2),
                    (x + w + gap - 0.05, h / 2),
                    arrowstyle="-|>",
                    mutation_scale=18,
                    color="#333",
                )
            )
    ax.annotate(
        "",
        xy=(1 * (w + gap) + w / 2, -0.1),
        xytext=(2 * (w + gap) + w / 2, -0.1),
        arrowprops=dict(
            arrowstyle="-|>", color="#777", connectionstyle="arc3,rad=-0.25", linestyle="--"
        ),
    )
    ax.text(
        1.5 * (w + gap) + w / 2,
        -0.75,
        "steps 2 and 3 can be repeated with new comparisons",
        ha="center",
        va="top",
        fontsize=9,
        color="#555",
    )
    ax.set_xlim(-0.2, 3 * w + 2 * gap + 0.2)
    ax.set_ylim(-1.1, h + 0.2)
    ax.axis("off")
    ax.set_title(
        "How InstructGPT was trained (Ouyang et al. 2022): prompts in each step's training set",
        fontsize=11,
    )
    fig.tight_layout()
    return fig
