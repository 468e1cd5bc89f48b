"""Figures of the live explorers (``llmlab.widgets``): one forward pass of the course GPT, drawn.

Lessons 00, 02, 03, 04 and 05 show them, and the site's playground draws the same views.

Each function takes numbers already computed (by ``llmlab.widgets``, from the model) and returns a
plotly figure; nothing here runs a model, so a figure shows exactly the numbers it was given.

- :func:`forward_pass_figure`: the whole forward pass for one prompt, top to bottom in data-flow order
  (poloclub's Transformer Explainer lays it out the same way, left to right): tokens -> token and
  position embeddings -> one head's attention (heatmap and bertviz-style lines) -> what each block
  adds to the residual stream -> final logits -> the sampler's distribution with its cut-offs.
- :func:`walkthrough_figure`: one attention head step by step, X -> Q, K, V -> QKᵀ -> ÷√d_k -> mask ->
  softmax -> weights·V, one query row highlighted in every panel (a slider inside the figure moves it).
- :func:`probability_text_figure`: a generated text, each character coloured by the probability it had.
- :func:`sinusoidal_figure`: a sinusoidal table and one position's similarity to every other.

Colours and helpers come from the course's other figure modules (one owner per idea).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmlab.plots.attention import SCORE_COLORSCALE, WEIGHT_COLORSCALE, display_token
from llmlab.plots.generation import CHOSEN_COLOR, MODEL_COLOR, OTHER_COLOR

#: Colour scale of "how likely was this character": red (unlikely) to green (likely), 0..1.
PROBABILITY_COLORSCALE = "RdYlGn"

_CHIP_COLORSCALE = [[0.0, "#eef3fa"], [1.0, "#eef3fa"]]


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def _bound(z: np.ndarray) -> float:
    return float(np.abs(z).max()) or 1.0


def _token_ticks(labels: Sequence[str], every: int = 1) -> dict:
    n = len(labels)
    return dict(tickmode="array", tickvals=list(range(0, n, every)), ticktext=list(labels)[::every])


def _tick_step(n: int, room: int = 40) -> int:
    """Label every token when they fit, else every second, fourth, ... (hover still names each)."""
    return max(1, -(-n // room))


# ----------------------------------------------------------------------------------------------
# The bertviz-style line view of one head


def attention_lines(weights_row, tokens: Sequence[str], query: int) -> list[dict]:
    """Traces of the line view for one query: left column = the query, right column = the keys.

    ``weights_row``: ``(T_k,)``, how much ``query`` attends to each key (sums to 1). Each line is a
    band from the query to a key whose thickness is proportional to the weight (bertviz's head view,
    Vig 2019, https://github.com/jessevig/bertviz). All bands are one filled trace, so a figure stays
    small for long prompts.
    """
    w = _np(weights_row)
    T = len(tokens)
    xs, ys = [], []
    for j, wj in enumerate(w):
        if wj < 0.005:  # thinner than a hair: leave it out
            continue
        half = 0.45 * float(wj)
        xs += [0.08, 0.08, 0.92, 0.92, 0.08, None]
        ys += [query - half, query + half, j + half, j - half, query - half, None]
    labels = [display_token(t) for t in tokens]
    key_text = [f"{labels[j]} ← {w[j]:.3f}" if j < len(w) else "" for j in range(T)]
    return [
        dict(
            type="scatter",
            x=xs,
            y=ys,
            fill="toself",
            mode="lines",
            line=dict(width=0),
            fillcolor="rgba(76,120,168,0.55)",
            hoverinfo="skip",
            showlegend=False,
        ),
        _token_column(
            0.0,
            labels,
            "left",
            textfont=dict(color=[CHOSEN_COLOR if i == query else "#333" for i in range(T)]),
            hovertemplate="query %{y}<extra></extra>",
        ),
        _token_column(
            1.0,
            labels,
            "right",
            customdata=key_text,
            hovertemplate="key %{y}: %{customdata}<extra></extra>",
        ),
    ]


def _token_column(x: float, labels: list[str], side: str, **style) -> dict:
    """A column of token labels at ``x``, token i at height i: the queries (left) or keys (right)."""
    return dict(
        type="scatter",
        x=[x] * len(labels),
        y=list(range(len(labels))),
        mode="text",
        text=labels,
        textposition=f"middle {side}",
        showlegend=False,
        **style,
    )


# ----------------------------------------------------------------------------------------------
# The whole forward pass


def panel_grid(
    rows: Sequence[tuple[float, Sequence[float]]],
    gap_y: float = 0.05,
    gap_x: float = 0.06,
    top: float = 1.0,
) -> list[tuple[list[float], list[float]]]:
    """Domains of a grid of panels, in reading order: ``[(x_domain, y_domain), ...]``.

    ``rows``: ``(height, column widths)`` per row, as fractions (normalised here). A light
    ``make_subplots``: the figures below give plotly one dict, which is several times faster to
    build than ``make_subplots`` plus per-axis updates, and the explorer redraws on every change.
    """
    total_h = sum(h for h, _ in rows)
    room_y = top - gap_y * (len(rows) - 1)
    out, y = [], top
    for h, widths in rows:
        height = room_y * h / total_h
        room_x = 1.0 - gap_x * (len(widths) - 1)
        x = 0.0
        for w in widths:
            width = room_x * w / sum(widths)
            out.append(([x, x + width], [y - height, y]))
            x += width + gap_x
        y -= height + gap_y
    return out


def _axes(k: int, domains, **extra) -> dict:
    """Layout entries ``xaxis<k>``/``yaxis<k>`` of panel ``k`` (1-based) at its domain."""
    xd, yd = domains[k - 1]
    x, y = ("xaxis", "yaxis") if k == 1 else (f"xaxis{k}", f"yaxis{k}")
    ref = "" if k == 1 else str(k)
    return {
        x: dict(domain=xd, anchor=f"y{ref}", **_titled(extra.get("x", {}))),
        y: dict(domain=yd, anchor=f"x{ref}", **_titled(extra.get("y", {}))),
    }


def _titled(props: dict) -> dict:
    """``title="..."`` as plotly.js reads it, ``{"text": ...}`` (the unchecked dicts get no conversion)."""
    if isinstance(props.get("title"), str):
        return {**props, "title": dict(text=props["title"])}
    return props


def _ref(k: int) -> dict:
    return dict(xaxis="x" if k == 1 else f"x{k}", yaxis="y" if k == 1 else f"y{k}")


def _panel_title(text: str, domain) -> dict:
    xd, yd = domain
    return dict(
        text=text,
        x=(xd[0] + xd[1]) / 2,
        y=yd[1],
        xref="paper",
        yref="paper",
        xanchor="center",
        yanchor="bottom",
        showarrow=False,
        font=dict(size=13),
    )


def _scale(name: str) -> list:
    """A named colour scale as the list plotly.js reads ("RdBu_r" is a Python-side name only)."""
    from plotly.colors import get_colorscale

    return get_colorscale(name)


def _figure(data: list[dict], layout: dict) -> go.Figure:
    """A plotly figure from plain dicts, without re-validating every property (the slow part)."""
    return go.Figure(dict(data=data, layout=layout), _validate=False)


def forward_pass_figure(
    tokens: Sequence[str],
    ids: Sequence[int],
    tok_emb,
    pos_emb,
    attention,
    layer: int,
    head: int,
    query: int,
    residual_adds,
    residual_names: Sequence[str],
    logits,
    stages: dict,
    candidates: Sequence[str],
    vocab_size: int,
    settings: str,
    notes: Sequence[str] = (),
) -> go.Figure:
    """The forward pass of one prompt as one figure, top to bottom in data-flow order.

    tokens, ids: the T tokens and their ids. tok_emb, pos_emb: ``(T, C)`` the rows of the token
    and position embedding tables (their sum enters block 0). attention: ``(T, T)`` the weights of
    head ``head`` of layer ``layer``; ``query`` picks the row of the line view. residual_adds:
    ``(R, T)`` the size (L2 norm) of each addition to the residual stream, one row per
    ``residual_names``. logits: ``(N,)`` the final logits of the last position for the ``N``
    ``candidates`` shown (most likely first). stages: ``{"temperature": (N,), "top-k": (N,),
    "sampled": (N,)}`` the distribution after each step of the sampler, with ``"kept_k"`` and
    ``"kept_p"`` the number of tokens left after top-k and after top-p. settings: the sampler's
    settings as text. notes: extra lines for the title.
    """
    tok_emb, pos_emb, attention = _np(tok_emb), _np(pos_emb), _np(attention)
    residual_adds, logits = _np(residual_adds), _np(logits)
    T, C = tok_emb.shape
    labels = [display_token(t) for t in tokens]
    ticks = _token_ticks(labels, _tick_step(T, 32))
    emb_ticks = _token_ticks(labels, _tick_step(T, 16))
    cand = [f"{i + 1}. {display_token(c)}" for i, c in enumerate(candidates)]
    R = len(residual_names)
    # panels: 1 chips | 2, 3, 4 embeddings | 5 attention, 6 lines | 7 residual | 8 logits | 9 distribution
    grid = panel_grid(
        [
            (0.045, [1]),
            (0.2, [1, 1, 1]),
            (0.25, [2, 1]),
            (0.03 + 0.016 * R, [1]),
            (0.13, [1]),
            (0.2, [1]),
        ],
        gap_y=0.052,
        top=0.965,
    )
    titles = [
        f"1. tokens → ids: (1, T) = (1, {T})",
        f"2a. token embedding: (T, C) = ({T}, {C})",
        f"2b. + position embedding: ({T}, {C})",
        f"2c. = input of block 0: ({T}, {C})",
        f"3. layer {layer}, head {head}: attention weights (T, T) = ({T}, {T})",
        f"3b. what query {query} “{labels[query]}” reads (line width = weight)",
        f"4. residual stream: size ‖·‖ of what each step adds, per token: ({R}, {T})",
        f"5. final logits of the last position: (V,) = ({vocab_size},), the top {len(cand)} shown",
        f"6. next-token distribution: {settings}",
    ]
    hidden = dict(visible=False)
    tok_y = dict(autorange="reversed", **ticks)
    layout: dict = {}
    panels: list[dict[str, Any]] = [
        dict(x=hidden, y=hidden),
        dict(x=dict(title="dimension"), y=dict(title="token", autorange="reversed", **emb_ticks)),
        dict(x=dict(title="dimension"), y=dict(showticklabels=False, autorange="reversed")),
        dict(x=dict(title="dimension"), y=dict(showticklabels=False, autorange="reversed")),
        dict(x=dict(title="key (attended to)", **ticks), y=dict(title="query", **tok_y)),
        dict(
            x=dict(visible=False, range=[-0.35, 1.35]),
            y=dict(visible=False, range=[T - 0.5, -0.5]),
        ),
        dict(
            x=dict(title="token", **ticks),
            y=dict(
                tickmode="array",
                tickvals=list(range(R)),
                ticktext=list(residual_names),
                autorange="reversed",
            ),
        ),
        dict(x=dict(type="category"), y=dict(title="logit")),
        dict(
            x=dict(
                type="category",
                title="candidate next token (rank. token; ␣ = space, ↵ = new line)",
            ),
            y=dict(title="probability", range=[0, 1.05]),
        ),
    ]
    for k, extra in enumerate(panels, start=1):
        layout.update(_axes(k, grid, **extra))
    emb_hover = "token %{y}<br>dim %{x}<br>%{z:.3f}<extra></extra>"
    data = [
        # 1. the tokens as chips, each with its id
        dict(
            type="heatmap",
            z=np.zeros((1, T), dtype=np.float32),
            colorscale=_CHIP_COLORSCALE,
            showscale=False,
            xgap=3,
            text=[[f"{lab}<br>{i}" for lab, i in zip(labels, ids, strict=True)]],
            texttemplate="%{text}",
            textfont=dict(size=11 if T <= 48 else 8),
            hovertemplate="position %{x}: %{text}<extra></extra>",
            **_ref(1),
        ),
        # 2. embeddings: tokens on rows, dimensions on columns, one diverging scale for the three
        *[
            dict(type="heatmap", z=z, coloraxis="coloraxis", hovertemplate=emb_hover, **_ref(k))
            for k, z in ((2, tok_emb), (3, pos_emb), (4, tok_emb + pos_emb))
        ],
        # 3. one head's attention, and the lines of the chosen query
        dict(
            type="heatmap",
            z=attention,
            coloraxis="coloraxis2",
            hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>",
            **_ref(5),
        ),
        *[dict(t, **_ref(6)) for t in attention_lines(attention[query], tokens, query)],
        # 4. the residual stream: how much each step adds (L2 norm), per token
        dict(
            type="heatmap",
            z=residual_adds,
            coloraxis="coloraxis3",
            customdata=[[n] * T for n in residual_names],
            hovertemplate="%{customdata}<br>token %{x}<br>‖added‖ = %{z:.2f}<extra></extra>",
            **_ref(7),
        ),
        # 5. final logits of the last position
        dict(
            type="bar",
            x=cand,
            y=logits,
            marker_color=MODEL_COLOR,
            showlegend=False,
            hovertemplate="%{x}: logit %{y:.2f}<extra></extra>",
            **_ref(8),
        ),
        # 6. the sampler, in its order: temperature, then top-k, then top-p
        *[
            dict(
                type="bar",
                x=cand,
                y=_np(stages[key]),
                marker_color=color,
                name=name,
                **_ref(9),
                hovertemplate="%{x}: p = %{y:.3f} " + name + "<extra></extra>",
            )
            for key, color, name in (
                ("temperature", MODEL_COLOR, "after temperature"),
                ("top-k", "#9ecae1", "then top-k"),
                ("sampled", OTHER_COLOR, "then top-p: sampled from"),
            )
        ],
    ]
    shapes = [
        dict(
            type="rect",
            xref="x5",
            yref="y5",
            x0=-0.5,
            x1=T - 0.5,
            y0=query - 0.5,
            y1=query + 0.5,
            line=dict(color=CHOSEN_COLOR, width=2),
        )
    ]
    annotations = [_panel_title(t, d) for t, d in zip(titles, grid, strict=True)]
    cuts = (
        (stages["kept_k"], "top-k cut", "#6a51a3", 0.7),
        (stages["kept_p"], "top-p cut", CHOSEN_COLOR, 0.55),
    )
    for kept, text, color, y in cuts:
        if kept < len(cand):
            shapes.append(
                dict(
                    type="line",
                    xref="x9",
                    yref="y9 domain",
                    x0=kept - 0.5,
                    x1=kept - 0.5,
                    y0=0,
                    y1=1,
                    line=dict(color=color, dash="dash", width=2),
                )
            )
            annotations.append(
                dict(
                    xref="x9",
                    yref="y9 domain",
                    x=kept - 0.5,
                    y=y,
                    text=f"{text}: {kept} kept",
                    showarrow=False,
                    xanchor="left",
                    font=dict(color=color, size=11),
                    bgcolor="rgba(255,255,255,0.8)",
                )
            )
    title = "One forward pass of the course GPT, in data-flow order"
    if notes:
        title += "<br><sup>" + "<br>".join(notes) + "</sup>"

    def bar(d, title):  # a colour bar beside row ``d``
        return dict(
            title=dict(text=title), len=d[1][1] - d[1][0], y=d[1][0], yanchor="bottom", thickness=12
        )

    bound = _bound(tok_emb + pos_emb)
    layout.update(
        title=dict(text=title, y=0.985, yanchor="top"),
        shapes=shapes,
        annotations=annotations,
        coloraxis=dict(
            colorscale=_scale(SCORE_COLORSCALE),
            cmin=-bound,
            cmax=bound,
            colorbar=bar(grid[1], "value"),
        ),
        coloraxis2=dict(
            colorscale=_scale(WEIGHT_COLORSCALE), cmin=0, cmax=1, colorbar=bar(grid[4], "weight")
        ),
        coloraxis3=dict(colorscale=_scale("Greys"), cmin=0, colorbar=bar(grid[6], "‖added‖")),
        barmode="overlay",
        bargap=0.2,
        height=1750,
        width=1000,
        margin=dict(t=70, l=150, r=40, b=50),
        legend=dict(orientation="h", x=1, xanchor="right", y=grid[8][1][1] - 0.01, yanchor="top"),
    )
    return _figure(data, layout)


# ----------------------------------------------------------------------------------------------
# One head, step by step


def walkthrough_figure(steps: dict, tokens: Sequence[str], query: int, title: str) -> go.Figure:
    """Scaled dot-product attention of one head, stage by stage, one query row highlighted.

    ``steps``: ``X (T, C)``, ``Q``, ``K``, ``V (T, d_k)``, ``QK^T``, ``scaled``, ``masked (T, T)``
    (``-inf`` above the diagonal), ``weights (T, T)``, ``out (T, d_k)``. The highlighted row follows a
    slider inside the figure (no kernel needed); ``query`` is where it starts.
    """
    labels = [display_token(t) for t in tokens]
    T = len(labels)
    z = {k: _np(v) for k, v in steps.items()}
    d_k = z["Q"].shape[1]
    panels = [  # (key, title) in reading order: row 1 the vectors, row 2 the scores
        ("X", f"X = ln_1(x): ({T}, {z['X'].shape[1]})"),
        ("Q", f"Q = X W_Q: ({T}, {d_k})"),
        ("K", f"K = X W_K: ({T}, {d_k})"),
        ("V", f"V = X W_V: ({T}, {d_k})"),
        ("QK^T", f"Q Kᵀ: ({T}, {T})"),
        ("scaled", f"÷ √d_k = √{d_k}"),
        ("masked", "causal mask: −∞ above the diagonal"),
        ("weights", "softmax, row by row"),
        ("out", f"weights · V: ({T}, {d_k})"),
    ]
    grid = panel_grid([(1, [2, 1, 1, 1]), (1, [1, 1, 1, 1, 1])], gap_y=0.2, gap_x=0.035, top=0.9)
    scores = np.concatenate([z["QK^T"].ravel(), z["scaled"].ravel()])
    score_bound = float(np.abs(scores).max()) or 1.0
    vec_bound = max(_bound(z[k]) for k in ("Q", "K", "V", "out"))
    ticks = _token_ticks(labels)
    data, layout = [], {}
    for n, (key, _) in enumerate(panels, start=1):
        square = key in ("QK^T", "scaled", "masked", "weights")
        values = z[key]
        if key == "weights":
            color = dict(colorscale=_scale(WEIGHT_COLORSCALE), zmin=0, zmax=1)
        elif square:
            color = dict(colorscale=_scale(SCORE_COLORSCALE), zmin=-score_bound, zmax=score_bound)
        else:
            bound = _bound(values) if key == "X" else vec_bound
            color = dict(colorscale=_scale(SCORE_COLORSCALE), zmin=-bound, zmax=bound)
        trace = dict(
            type="heatmap",
            z=np.where(np.isfinite(values), values, np.nan),
            showscale=False,
            hovertemplate=f"{key}<br>row %{{y}}<br>col %{{x}}<br>%{{z:.3f}}<extra></extra>",
            **color,
            **_ref(n),
        )
        if square and T <= 6:  # numbers in the cells while they fit; hover shows them all
            fmt = ".2f" if key == "weights" else ".1f"
            trace.update(
                text=[[format(v, fmt) if np.isfinite(v) else "−∞" for v in row] for row in values],
                texttemplate="%{text}",
                textfont=dict(size=9),
            )
        data.append(trace)
        x = dict(title="key", tickangle=0, **ticks) if square else dict(title="dimension")
        y = dict(autorange="reversed", showticklabels=n in (1, 5), **ticks)
        layout.update(_axes(n, grid, x=x, y=y))

    def highlight(q: int) -> list[dict]:
        return [
            dict(
                type="rect",
                xref=f"x{n if n > 1 else ''}",
                yref=f"y{n if n > 1 else ''}",
                x0=-0.5,
                x1=z[key].shape[1] - 0.5,
                y0=q - 0.5,
                y1=q + 0.5,
                line=dict(color=CHOSEN_COLOR, width=2),
            )
            for n, (key, _) in enumerate(panels, start=1)
        ]

    layout.update(
        annotations=[_panel_title(t, d) for (_, t), d in zip(panels, grid, strict=True)],
        shapes=highlight(query),
        sliders=[
            dict(
                active=query,
                currentvalue=dict(prefix="query token: "),
                pad=dict(t=50),
                steps=[
                    dict(
                        method="relayout", label=f"{q} {labels[q]}", args=[{"shapes": highlight(q)}]
                    )
                    for q in range(T)
                ],
            )
        ],
        title=dict(text=title, y=0.98, yanchor="top"),
        height=700,
        width=1100,
        margin=dict(t=90, l=60, r=30, b=60),
    )
    return _figure(data, layout)


# ----------------------------------------------------------------------------------------------
# Generated text coloured by probability, and a live sinusoidal table


def probability_text_figure(
    prompt: str, generated: Sequence[str], probs: Sequence[float], settings: str, width: int = 48
) -> go.Figure:
    """The prompt (grey) and each generated character coloured by the probability it was drawn with.

    ``generated`` and ``probs`` have one entry per generated token; ``width`` characters per line.
    """
    chars = [display_token(c) for c in prompt] + [display_token(c) for c in generated]
    values = [np.nan] * len(prompt) + [float(p) for p in probs]
    rows = -(-len(chars) // width)
    z = np.full((rows, width), np.nan, dtype=np.float32)
    text = [[""] * width for _ in range(rows)]
    for i, (ch, v) in enumerate(zip(chars, values, strict=True)):
        z[i // width, i % width] = v
        text[i // width][i % width] = ch
    fig = go.Figure(
        go.Heatmap(
            z=z,
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=13, family="monospace"),
            xgap=1,
            ygap=1,
            colorscale=PROBABILITY_COLORSCALE,
            zmin=0,
            zmax=1,
            colorbar=dict(title="p when drawn"),
            hovertemplate="“%{text}” drawn with p = %{z:.3f}<extra></extra>",
        )
    )
    mean = float(np.mean(probs)) if len(probs) else float("nan")
    fig.update_layout(
        title=f"Generated text, each character coloured by the probability it was drawn with (mean {mean:.2f})"
        f"<br><sup>{settings}; white: the prompt; ␣ = space, ↵ = new line</sup>",
        xaxis=dict(visible=False),
        yaxis=dict(visible=False, autorange="reversed"),
        plot_bgcolor="white",
        height=140 + 26 * rows,
        width=40 + 17 * width,
        margin=dict(t=70, l=20, r=20, b=20),
    )
    return fig


def sinusoidal_figure(table, position: int, similarity) -> go.Figure:
    """A sinusoidal table ``(P, d_model)`` (heatmap), the row of ``position`` and its dot product with every row."""
    table = _np(table)
    P, d = table.shape
    fig = make_subplots(
        rows=2,
        cols=2,
        column_widths=[0.55, 0.45],
        specs=[[{"rowspan": 2}, {}], [None, {}]],
        horizontal_spacing=0.14,
        vertical_spacing=0.2,
        subplot_titles=[
            f"PE: ({P}, {d}), positions × dimensions",
            f"PE[{position}]: ({d},)",
            f"PE[{position}] · PE[n] for every position n",
        ],
    )
    fig.add_trace(
        go.Heatmap(
            z=table,
            colorscale=SCORE_COLORSCALE,
            zmin=-1,
            zmax=1,
            colorbar=dict(title="PE", orientation="h", x=0.27, y=-0.3, len=0.5, thickness=12),
            hovertemplate="pos %{y}<br>dim %{x}<br>%{z:.3f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_hline(y=position, line=dict(color=CHOSEN_COLOR, width=1.5), row=1, col=1)
    fig.add_trace(
        go.Bar(
            x=list(range(d)),
            y=table[position],
            marker_color=OTHER_COLOR,
            showlegend=False,
            hovertemplate="dim %{x}: %{y:.3f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=list(range(P)),
            y=_np(similarity),
            mode="lines",
            line=dict(color=CHOSEN_COLOR),
            showlegend=False,
            hovertemplate="n = %{x}: %{y:.2f}<extra></extra>",
        ),
        row=2,
        col=2,
    )
    fig.update_yaxes(title_text="position", autorange="reversed", row=1, col=1)
    fig.update_xaxes(title_text="dimension (2i = sin, 2i+1 = cos)", row=1, col=1)
    fig.update_xaxes(title_text="dimension", row=1, col=2)
    fig.update_yaxes(title_text="value", range=[-1.1, 1.1], row=1, col=2)
    fig.update_xaxes(title_text="position n", row=2, col=2)
    fig.update_yaxes(title_text="dot product", row=2, col=2)
    fig.update_layout(height=580, width=1000, margin=dict(t=60, b=140))
    return fig
