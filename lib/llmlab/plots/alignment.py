"""Figures of lesson 09 (preference tuning): the training curves of a run, and its effect.

- :func:`run_curves`: a reward-model or DPO run: the batch loss per step and the held-out evaluations.

The share of held-out answers the rule scores right is exact match, so lesson 05's
``llmlab.plots.finetuning.accuracy_bars`` draws it (its "full fine-tuning" colour is the SFT model's).

Plotly figures: they need no kernel, and the site keeps a static picture beside them.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: One colour per model or run, the same in every figure of the lesson.
COLOURS = {
    "SFT only": "#1f77b4",
    "SFT + DPOP": "#d62728",  # as accuracy_bars draws a second model
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
