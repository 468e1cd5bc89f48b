"""Generation made visible: the next-token distribution at each step, and what sampling does to it.

Lesson 04 draws them.

- :func:`next_token_figure`: a bar chart of the most likely next tokens at each generation step,
  the token actually chosen highlighted, a slider over the steps (inside the figure: works in a
  saved notebook with no kernel).
- :func:`sampling_explorer_figure`: one distribution reshaped by temperature, top-k and top-p
  (Holtzman et al. 2019, https://arxiv.org/abs/1904.09751), one row and one slider per knob.

Both take the token ids and a ``decode(ids) -> str`` function (e.g. a tokenizer's ``decode``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from llmlab.generation import GenerationTrace, sampling_probs
from llmlab.plots.attention import display_token

CHOSEN_COLOR = "#e4572e"  # the token that was picked
OTHER_COLOR = "#4c78a8"  # the other candidates
MODEL_COLOR = "#c7c7c7"  # the model's own distribution, for reference


def _labels(ids: Sequence[int], decode: Callable) -> list[str]:
    return [display_token(decode([i])) for i in ids]


def _tail(text: str, n: int = 48) -> str:
    text = text.replace("\n", "↵")
    return ("…" + text[-n:]) if len(text) > n else text


def next_token_figure(
    trace: GenerationTrace,
    decode: Callable[[Sequence[int]], str],
    top: int = 12,
    which: str = "probs",
) -> go.Figure:
    """The ``top`` most likely next tokens at each step of ``trace``; slider over the steps.

    ``which="probs"``: the distribution each token was drawn from (after temperature, top-k,
    top-p); ``"model_probs"``: the model's own softmax. The chosen token is drawn in orange (and
    added at the right end if it is not among the ``top``).
    """
    probs = getattr(trace, which)  # (steps, V)
    steps = len(trace.tokens)
    if steps == 0:
        raise ValueError(
            "the trace has no generated tokens; generate at least one (max_new_tokens >= 1)."
        )
    top = min(top, probs.size(-1))
    frames: list[dict[str, Any]] = []
    text = decode(trace.prompt)
    for s in range(steps):
        p = probs[s]
        ids = torch.topk(p, top).indices.tolist()
        chosen = trace.tokens[s]
        if chosen not in ids:
            ids.append(chosen)
        y = [round(float(p[i]), 4) for i in ids]
        frames.append(
            dict(
                x=[f"{k + 1}. {lab}" for k, lab in enumerate(_labels(ids, decode))],
                y=y,
                color=[CHOSEN_COLOR if i == chosen else OTHER_COLOR for i in ids],
                title=(
                    f"Step {s + 1} of {steps}: after “{_tail(text)}” the model picks "
                    f"“{display_token(decode([chosen]))}” (p = {float(p[chosen]):.2f})"
                ),
            )
        )
        text += decode([chosen])
    f0 = frames[0]
    fig = go.Figure(
        go.Bar(
            x=f0["x"],
            y=f0["y"],
            marker_color=f0["color"],
            text=[f"{v:.2f}" for v in f0["y"]],
            textposition="outside",
            hovertemplate="%{x}<br>p = %{y:.3f}<extra></extra>",
            showlegend=False,
        )
    )
    slider_steps = [
        dict(
            method="update",
            label=str(s + 1),
            args=[
                {
                    "x": [f["x"]],
                    "y": [f["y"]],
                    "marker.color": [f["color"]],
                    "text": [[f"{v:.2f}" for v in f["y"]]],
                },
                {"title.text": f["title"]},
            ],
        )
        for s, f in enumerate(frames)
    ]
    ymax = max(max(f["y"]) for f in frames)
    fig.update_layout(
        title=dict(text=f0["title"], font=dict(size=14)),
        xaxis=dict(
            title="candidate next token (rank. token; ␣ = space, ↵ = new line)", type="category"
        ),
        yaxis=dict(title="probability", range=[0, min(1.0, ymax) * 1.15]),
        sliders=[
            dict(
                active=0,
                steps=slider_steps,
                currentvalue=dict(prefix="generation step "),
                pad=dict(t=60),
            )
        ],
        height=470,
        margin=dict(t=70, b=40),
    )
    return fig


def sampling_explorer_figure(
    logits: torch.Tensor,
    decode: Callable[[Sequence[int]], str],
    context: str = "",
    temperatures: Sequence[float] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0),
    top_ks: Sequence[int] = (1, 2, 3, 5, 10, 20),
    top_ps: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0),
    top: int = 20,
) -> go.Figure:
    """One next-token distribution (``logits (V,)``) under temperature, top-k and top-p.

    Three rows share the model's ``top`` most likely tokens on the x axis: grey bars are the
    model's distribution (temperature 1), blue bars next to them the distribution sampled from with the
    row's knob at the slider's value (the other knobs off). Each row's title says how many
    tokens keep a chance.
    """
    logits = logits.detach().float().reshape(-1)  # (V,)
    base = torch.softmax(logits, -1)
    ids = torch.topk(base, min(top, logits.numel())).indices.tolist()
    x = _labels(ids, decode)
    knobs = [
        ("temperature", "T", temperatures, lambda v: sampling_probs(logits, v), 1.0),
        ("top-k", "k", top_ks, lambda v: sampling_probs(logits, 1.0, top_k=v), max(top_ks)),
        (
            "top-p",
            "p",
            top_ps,
            lambda v: sampling_probs(logits, 1.0, top_p=v),
            0.9 if 0.9 in top_ps else top_ps[-1],
        ),
    ]

    def row_title(name, sym, v, p):
        kept = int((p > 0).sum())
        return f"{name}: {sym} = {v:g} → {kept} token{'s' if kept != 1 else ''} can be drawn, top token p = {float(p.max()):.2f}"

    fig = make_subplots(rows=3, cols=1, vertical_spacing=0.21, subplot_titles=[" "] * 3)
    sliders = []
    for r, (name, sym, values, fn, start) in enumerate(knobs):
        dists = {v: fn(v) for v in values}
        fig.add_bar(
            x=x,
            y=[round(float(base[i]), 4) for i in ids],
            marker_color=MODEL_COLOR,
            name="model (T = 1, no filter)",
            showlegend=r == 0,
            row=r + 1,
            col=1,
            hovertemplate="%{x}: model p = %{y:.3f}<extra></extra>",
        )
        fig.add_bar(
            x=x,
            y=[round(float(dists[start][i]), 4) for i in ids],
            marker_color=OTHER_COLOR,
            name="sampled from",
            showlegend=r == 0,
            row=r + 1,
            col=1,
            hovertemplate="%{x}: p = %{y:.3f}<extra></extra>",
        )
        fig.layout.annotations[r].text = row_title(name, sym, start, dists[start])
        trace_index = 2 * r + 1
        y_slider = fig.layout[f"yaxis{r + 1 if r else ''}"].domain[0] - 0.03
        sliders.append(
            dict(
                active=list(values).index(start),
                y=y_slider,
                yanchor="top",
                len=0.9,
                x=0.05,
                currentvalue=dict(prefix=f"{name}: {sym} = ", font=dict(size=12)),
                pad=dict(t=5, b=0),
                steps=[
                    dict(
                        method="update",
                        label=f"{v:g}",
                        args=[
                            {"y": [[round(float(dists[v][i]), 4) for i in ids]]},
                            {f"annotations[{r}].text": row_title(name, sym, v, dists[v])},
                            [trace_index],
                        ],
                    )
                    for v in values
                ],
            )
        )
        fig.update_yaxes(title_text="probability", range=[0, 1.05], row=r + 1, col=1)
        fig.update_xaxes(type="category", tickangle=0, row=r + 1, col=1)
    title = "Temperature, top-k and top-p reshape one next-token distribution"
    where = f" after “{_tail(context)}”" if context else ""
    # the sliders sit under each row where an x-axis title would go, so the subtitle names the x axis
    title += f"<br><sup>x axis: the model's {len(ids)} most likely next tokens{where}, most likely first (␣ = space, ↵ = new line)</sup>"
    fig.update_layout(
        # title pinned to the top so that its two lines stay clear of the legend above the first row
        title=dict(text=title, y=0.985, yanchor="top"),
        barmode="group",
        bargap=0.15,
        sliders=sliders,
        height=1000,
        legend=dict(orientation="h", y=1.06, x=1, xanchor="right"),
        margin=dict(t=110, b=40),
    )
    return fig
