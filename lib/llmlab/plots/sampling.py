"""Sampling figures: how temperature reshapes a next-token distribution (lesson 00).

A language model's last layer gives one score (logit) per token; the
probabilities are ``softmax(logits / T)``.  Dividing by a temperature T < 1
sharpens the distribution (the top token takes more of the mass), T > 1
flattens it (Ackley, Hinton and Sejnowski 1985 introduced the temperature of a
Boltzmann distribution to neural networks; Holtzman et al. 2020, "The Curious
Case of Neural Text Degeneration", discuss it for text generation).
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import torch


def softmax_with_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(logits / temperature)`` over the last dimension; logits ``(..., V)`` -> probabilities ``(..., V)``."""
    if temperature <= 0:
        raise ValueError(
            f"temperature must be > 0, got {temperature}; use a small value like 0.1 for near-greedy"
        )
    return torch.softmax(logits / temperature, dim=-1)


def temperature_figure(
    words: Sequence[str],
    logits: Sequence[float],
    temperatures: Sequence[float] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
    context: str = "",
) -> go.Figure:
    """A bar chart of next-token probabilities with a temperature slider built into the figure.

    The slider switches between precomputed bars, so it works with no kernel
    (saved notebooks, exported HTML).  ``words`` and ``logits`` have length V.
    """
    if len(words) != len(logits):
        raise ValueError(f"{len(words)} words but {len(logits)} logits: give one score per word")
    scores = torch.tensor(list(logits), dtype=torch.float64)  # (V,)
    start = min(range(len(temperatures)), key=lambda i: abs(temperatures[i] - 1.0))
    fig = go.Figure()
    for i, t in enumerate(temperatures):
        probs = softmax_with_temperature(scores, t)  # (V,)
        fig.add_bar(
            x=list(words),
            y=[round(p, 4) for p in probs.tolist()],
            visible=(i == start),
            name=f"T = {t:g}",
            text=[f"{p:.2f}" for p in probs.tolist()],
            textposition="outside",
            marker_color="#7b4f9e",
            hovertemplate="%{x}: %{y:.3f}<extra>T = " + f"{t:g}" + "</extra>",
        )
    steps = [
        dict(
            method="update",
            label=f"{t:g}",
            args=[{"visible": [j == i for j in range(len(temperatures))]}],
        )
        for i, t in enumerate(temperatures)
    ]
    title = "Next-token probabilities: softmax(logits / T)"
    if context:
        title += f"<br><sup>after \u201c{context}\u201d (made-up logits)</sup>"
    fig.update_layout(
        title=title,
        xaxis_title="candidate next token",
        yaxis=dict(title="probability", range=[0, 1.08]),
        sliders=[
            dict(
                active=start,
                currentvalue=dict(prefix="temperature T = "),
                pad=dict(t=50),
                steps=steps,
            )
        ],
        showlegend=False,
        height=430,
        width=720,
        margin=dict(l=60, r=20, t=80, b=40),
    )
    return fig
