"""Figures of lesson 09 (preference tuning): the training curves of a run, and its effect.

- :func:`run_curves`: a reward-model or DPO run: the batch loss per step and the held-out evaluations.
- :func:`effect_bars`: the share of held-out answers the rule prefers, per task kind, before and after.

Plotly figures: they need no kernel, and the site keeps a static picture beside them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: One colour per model or run, the same in every figure of the lesson.
COLOURS = {
    "SFT only": "#1f77b4",
    "SFT + DPOP": "#2ca02c",
    "plain DPO (live)": "#ff7f0e",
    "DPOP (live)": "#98df8a",
}


def run_curves(
    runs: dict[str, dict], loss_label: str, eval_key: str, eval_label: str, smooth: int = 10
) -> go.Figure:
    """Left: each run's batch loss (``runs[name]["losses"]``, ``smooth``-step mean); right: ``eval_key`` of its evaluations."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"{loss_label} per step", eval_label))
    for i, (name, log) in enumerate(runs.items()):
        colour = COLOURS.get(name, ["#1f77b4", "#ff7f0e", "#2ca02c"][i % 3])
        y = np.asarray(log["losses"], dtype=float)
        k = min(smooth, len(y))
        y = np.convolve(y, np.ones(k) / k, mode="valid")
        fig.add_scatter(
            x=np.arange(len(y)) + k,
            y=np.round(y, 4),
            mode="lines",
            name=name,
            line=dict(color=colour),
            row=1,
            col=1,
        )
        evals = log["evals"]
        fig.add_scatter(
            x=[e["step"] for e in evals],
            y=[round(e[eval_key], 4) for e in evals],
            mode="lines+markers",
            name=f"{name}: {eval_key}",
            line=dict(color=colour, dash="dot"),
            showlegend=False,
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text="optimizer step", row=1, col=1)
    fig.update_xaxes(title_text="optimizer step", row=1, col=2)
    fig.update_yaxes(title_text=f"{loss_label} (nats, {smooth}-step mean)", row=1, col=1)
    fig.update_yaxes(title_text=eval_label, row=1, col=2)
    fig.update_layout(height=380, width=900, legend=dict(orientation="h", y=-0.25))
    return fig


def effect_bars(
    rates: dict[str, dict[str, float]], kinds: Sequence[str], title: str, ytitle: str
) -> go.Figure:
    """Grouped bars: for each model (``rates[name] = {kind: share}``) one bar per kind, 0..1."""
    fig = go.Figure()
    for i, (name, share) in enumerate(rates.items()):
        fig.add_bar(
            name=name,
            x=list(kinds),
            y=[share.get(k, 0.0) for k in kinds],
            marker_color=COLOURS.get(name, ["#9e9e9e", "#d62728"][i % 2]),
            text=[f"{share.get(k, 0.0):.0%}" for k in kinds],
            textposition="outside",
            hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>",
        )
    fig.update_layout(
        barmode="group",
        title=title,
        height=400,
        width=820,
        xaxis_title="task kind (held-out examples)",
        yaxis_title=ytitle,
        legend=dict(orientation="h", y=-0.2),
    )
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%")
    return fig
