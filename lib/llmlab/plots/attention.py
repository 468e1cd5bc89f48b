"""Attention as heatmaps: queries on rows, keys on columns, one colour scale from 0 to 1 (lesson 03).

Three pictures (the reference look is bertviz's model view, Vig 2019,
https://github.com/jessevig/bertviz, without its CDN script or live kernel):

- :func:`attention_heatmap`: one head's ``(T_q, T_k)`` weights, tokens on both axes;
  :func:`score_heatmap` and :func:`vector_heatmap` draw the raw scores and the
  vectors of the lesson's hand-sized example with the same look.
- :func:`attention_model_view`: every head of every layer of a model, one row of
  heads per layer; a slider inside the figure picks the layer, so it works in a
  saved notebook with no kernel.
- :func:`attention_grid_matplotlib`: the same layers x heads grid as small
  multiples on one page, for print.

The colour scale is fixed to 0..1 everywhere, so heads and layers compare by eye.
Token axes are numeric positions with the tokens as tick labels: a repeated token
(two "the", or the many spaces of a character model) keeps its own row and column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

#: Colour scale of attention weights (0 = white, 1 = dark blue), fixed from 0 to 1.
WEIGHT_COLORSCALE = "Blues"
#: Colour scale of raw scores, which can be negative: diverging, centred on 0.
SCORE_COLORSCALE = "RdBu_r"

_HOVER = "query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>"

_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥"}


def display_token(token: str) -> str:
    """A token as a readable axis label: whitespace becomes a visible symbol (" " -> "␣")."""
    token = str(token)
    if token in _VISIBLE:
        return _VISIBLE[token]
    return "".join(_VISIBLE.get(c, c) for c in token) if token.isspace() else token


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=float)


def _check_labels(labels: Sequence[str], n: int, what: str, shape) -> list[str]:
    labels = [display_token(t) for t in labels]
    if len(labels) != n:
        raise ValueError(
            f"{len(labels)} {what} labels for {n} {what} positions (weights of shape {tuple(shape)}); "
            f"pass one label per {what} token."
        )
    return labels


def _check_weights(weights: np.ndarray, what: str = "attention weights") -> None:
    if np.isnan(weights).any():
        raise ValueError(
            f"the {what} contain NaN; check the mask (a fully masked row?) and the inputs."
        )
    if weights.min() < -1e-6 or weights.max() > 1 + 1e-6:
        raise ValueError(
            f"{what} must lie between 0 and 1 (softmax outputs), got values from "
            f"{weights.min():.3g} to {weights.max():.3g}; plot raw scores with score_heatmap()."
        )


def _token_axis(labels: Sequence[str], title: str | None, tickangle: int | None = None) -> dict:
    n = len(labels)
    return dict(
        title=title,
        tickmode="array",
        tickvals=list(range(n)),
        ticktext=list(labels),
        tickangle=tickangle,
        showgrid=False,
        range=[-0.5, n - 0.5],
    )


def _heatmap_figure(
    z: np.ndarray,
    row_labels: list[str],
    col_labels: list[str],
    *,
    title: str,
    xaxis_title: str,
    yaxis_title: str,
    colorscale: str,
    zmin: float,
    zmax: float,
    colorbar_title: str,
    hovertemplate: str,
    text_format: str | None,
    size: int,
) -> go.Figure:
    trace = go.Heatmap(
        z=np.round(z, 4),
        x=list(range(z.shape[1])),
        y=list(range(z.shape[0])),
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        colorbar=dict(title=colorbar_title),
        hovertemplate=hovertemplate,
    )
    if text_format is not None:
        trace.update(
            text=[[format(v, text_format) for v in row] for row in z], texttemplate="%{text}"
        )
    fig = go.Figure(trace)
    height = min(size, 120 + 40 * len(row_labels)) if text_format else size
    fig.update_layout(
        title=title,
        width=max(size, 140 + 40 * len(col_labels)) if text_format else size + 80,
        height=max(height, 300),
        xaxis=_token_axis(col_labels, xaxis_title, tickangle=-45 if len(col_labels) > 8 else 0),
        yaxis=dict(_token_axis(row_labels, yaxis_title), autorange="reversed"),
        margin=dict(l=80, r=20, t=60, b=80),
    )
    # keep the range reversed (row 0 at the top) while still fixing the extent
    fig.update_yaxes(range=[len(row_labels) - 0.5, -0.5], autorange=None)
    return fig


def attention_heatmap(
    weights,
    tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    title: str = "Attention weights",
    annotate: bool | None = None,
    size: int = 480,
) -> go.Figure:
    """One head's attention weights as a plotly heatmap, colour scale fixed to 0..1.

    ``weights``: ``(T_q, T_k)`` array or tensor, row i = how query i spreads its
    attention over the keys (each row sums to 1).  ``tokens`` labels the queries
    (rows); ``key_tokens`` labels the keys (columns) and defaults to ``tokens``,
    which then requires a square matrix (self-attention).  ``annotate`` writes each
    weight in its cell (default: when there are at most 12 tokens).
    """
    w = _to_numpy(weights)
    if w.ndim != 2:
        raise ValueError(
            f"attention_heatmap draws one head: weights of shape (T_q, T_k), got {tuple(w.shape)}; "
            "pick one layer, batch element and head first (e.g. maps[layer, 0, head])."
        )
    if key_tokens is None and w.shape[0] != w.shape[1]:
        raise ValueError(
            f"self-attention weights must be square (T, T), got {tuple(w.shape)}; "
            "for cross-attention pass key_tokens as well."
        )
    rows = _check_labels(tokens, w.shape[0], "query", w.shape)
    cols = _check_labels(tokens if key_tokens is None else key_tokens, w.shape[1], "key", w.shape)
    _check_weights(w)
    if annotate is None:
        annotate = max(w.shape) <= 12
    return _heatmap_figure(
        w,
        rows,
        cols,
        title=title,
        xaxis_title="key (attended to)",
        yaxis_title="query (attending)",
        colorscale=WEIGHT_COLORSCALE,
        zmin=0.0,
        zmax=1.0,
        colorbar_title="weight",
        hovertemplate=_HOVER,
        text_format=".2f" if annotate else None,
        size=size,
    )


def score_heatmap(
    scores,
    tokens: Sequence[str],
    title: str = "Scores q·k",
    annotate: bool = True,
    size: int = 480,
) -> go.Figure:
    """Raw attention scores ``(T, T)`` (before the softmax) with a diverging scale centred on 0.

    Masked entries (``-inf``) are shown as empty cells.
    """
    s = _to_numpy(scores)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"scores must be a square (T, T) matrix, got shape {tuple(s.shape)}.")
    labels = _check_labels(tokens, s.shape[0], "query", s.shape)
    finite = s[np.isfinite(s)]
    bound = float(np.abs(finite).max()) if finite.size else 1.0
    z = np.where(np.isfinite(s), s, np.nan)
    fig = _heatmap_figure(
        z,
        labels,
        labels,
        title=title,
        xaxis_title="key (attended to)",
        yaxis_title="query (attending)",
        colorscale=SCORE_COLORSCALE,
        zmin=-bound,
        zmax=bound,
        colorbar_title="score",
        hovertemplate="query %{y}<br>key %{x}<br>score %{z:.3f}<extra></extra>",
        text_format=".2f" if annotate else None,
        size=size,
    )
    if annotate:  # masked cells (-inf) would print "nan": write "−∞" in them
        fig.data[0].text = [
            [format(v, ".2f") if np.isfinite(v) else "−∞" for v in row] for row in s
        ]
    return fig


def vector_heatmap(
    vectors,
    tokens: Sequence[str],
    title: str = "Vectors",
    dim_name: str = "dimension",
    annotate: bool = True,
    size: int = 420,
) -> go.Figure:
    """Token vectors ``(T, d)`` (queries, keys, values or outputs) as a heatmap, tokens on rows."""
    x = _to_numpy(vectors)
    if x.ndim != 2:
        raise ValueError(f"vectors must be a (T, d) matrix, got shape {tuple(x.shape)}.")
    labels = _check_labels(tokens, x.shape[0], "token", x.shape)
    bound = float(np.abs(x).max()) or 1.0
    fig = _heatmap_figure(
        x,
        labels,
        [str(i) for i in range(x.shape[1])],
        title=title,
        xaxis_title=dim_name,
        yaxis_title="token",
        colorscale=SCORE_COLORSCALE,
        zmin=-bound,
        zmax=bound,
        colorbar_title="value",
        hovertemplate="token %{y}<br>" + dim_name + " %{x}<br>value %{z:.3f}<extra></extra>",
        text_format=".2f" if annotate else None,
        size=size,
    )
    return fig


def _check_maps(maps, tokens: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    m = _to_numpy(maps)
    if m.ndim == 5:
        raise ValueError(
            f"got attention maps of shape {tuple(m.shape)} (n_layer, B, n_head, T, T); "
            "pick one sequence of the batch first, e.g. maps[:, 0]."
        )
    if m.ndim != 4:
        raise ValueError(
            f"attention maps must have shape (n_layer, n_head, T, T), got {tuple(m.shape)}."
        )
    if m.shape[2] != m.shape[3]:
        raise ValueError(
            f"self-attention maps must be square in their last two dimensions (T, T), got {tuple(m.shape)}."
        )
    labels = _check_labels(tokens, m.shape[-1], "token", m.shape)
    _check_weights(m, "attention maps")
    return m, labels


def attention_model_view(
    maps,
    tokens: Sequence[str],
    title: str = "Attention of every head, layer by layer",
    layer: int = 0,
    width: int = 950,
    heads_per_row: int | None = None,
) -> go.Figure:
    """All heads of all layers: the heads of one layer side by side, a slider (inside the figure) picks the layer.

    ``maps``: ``(n_layer, n_head, T, T)`` attention weights, e.g.
    ``model.attention_maps(idx)[:, 0]``.  ``tokens``: the T token strings.  The
    figure holds every layer's weights (rounded to 3 decimals), so moving the
    slider needs no kernel.  Colour scale fixed to 0..1 for every head.  ``width``
    (pixels) is shared by the heads of a row; ``heads_per_row`` defaults to all
    heads for up to 16 tokens and to 2 beyond, so that token labels stay readable.
    """
    from plotly.subplots import make_subplots

    m, labels = _check_maps(maps, tokens)
    n_layer, n_head, T, _ = m.shape
    if not 0 <= layer < n_layer:
        raise ValueError(f"layer must be between 0 and {n_layer - 1}, got {layer}.")
    cols = heads_per_row or (n_head if T <= 16 else min(n_head, 2))
    rows = -(-n_head // cols)  # ceiling division
    m = np.round(m, 3)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"head {h}" for h in range(n_head)],
        horizontal_spacing=0.06 if cols > 1 else 0.0,
        vertical_spacing=0.12 / rows,
    )
    show_ticks = T <= 64  # beyond that the labels would overlap; hover still names each cell
    tickangle = -90 if T > 8 else 0
    tickfont = dict(size=12 if T <= 16 else 9)
    for h in range(n_head):
        r, c = h // cols + 1, h % cols + 1
        fig.add_trace(
            go.Heatmap(
                z=m[layer, h],
                x=list(range(T)),
                y=list(range(T)),
                coloraxis="coloraxis",
                hovertemplate=f"head {h}<br>" + _HOVER,
            ),
            row=r,
            col=c,
        )
        fig.update_xaxes(
            _token_axis(labels, "key" if r == rows else None, tickangle=tickangle),
            showticklabels=show_ticks,
            tickfont=tickfont,
            row=r,
            col=c,
        )
        fig.update_yaxes(
            _token_axis(labels, "query" if c == 1 else None),
            range=[T - 0.5, -0.5],
            showticklabels=show_ticks,
            tickfont=tickfont,
            row=r,
            col=c,
            scaleanchor="x" if h == 0 else f"x{h + 1}",
            constrain="domain",  # square cells
        )
    steps = [
        dict(
            method="restyle",
            label=str(layer_),
            args=[{"z": [m[layer_, h] for h in range(n_head)]}, list(range(n_head))],
        )
        for layer_ in range(n_layer)
    ]
    panel = min(420, (width - 160) // cols)
    fig.update_layout(
        title=title,
        coloraxis=dict(
            colorscale=WEIGHT_COLORSCALE, cmin=0.0, cmax=1.0, colorbar=dict(title="weight")
        ),
        sliders=[
            dict(active=layer, steps=steps, currentvalue=dict(prefix="layer "), pad=dict(t=60))
        ],
        width=width,
        height=rows * (panel + 50) + 190,
        margin=dict(l=80, r=20, t=80, b=40),
    )
    return fig


def attention_grid_matplotlib(
    maps,
    tokens: Sequence[str],
    title: str = "Attention weights: layers x heads",
    cell_inches: float = 1.8,
):
    """The layers x heads grid as matplotlib small multiples (for print); returns the Figure.

    ``maps``: ``(n_layer, n_head, T, T)``.  Rows are layers, columns are heads; every
    panel has queries on rows, keys on columns and the same 0..1 colour scale.  Token
    labels are written on the outer panels when there are at most 24 tokens.
    """
    import matplotlib.pyplot as plt

    m, labels = _check_maps(maps, tokens)
    n_layer, n_head, T, _ = m.shape
    fig, axes = plt.subplots(
        n_layer,
        n_head,
        figsize=(cell_inches * n_head + 1.4, cell_inches * n_layer + 1.0),
        squeeze=False,
        constrained_layout=True,
    )
    image = None
    label_ticks = T <= 24
    for layer in range(n_layer):
        for head in range(n_head):
            ax = axes[layer, head]
            image = ax.imshow(
                m[layer, head], vmin=0.0, vmax=1.0, cmap=WEIGHT_COLORSCALE, interpolation="nearest"
            )
            ax.grid(False)
            ax.set_xticks(range(T) if label_ticks and layer == n_layer - 1 else [])
            ax.set_yticks(range(T) if label_ticks and head == 0 else [])
            if label_ticks and layer == n_layer - 1:
                ax.set_xticklabels(labels, rotation=90, fontsize=7)
            if label_ticks and head == 0:
                ax.set_yticklabels(labels, fontsize=7)
            if layer == 0:
                ax.set_title(f"head {head}", fontsize=9)
            if head == 0:
                ax.set_ylabel(f"layer {layer}\nquery", fontsize=8)
            if layer == n_layer - 1:
                ax.set_xlabel("key", fontsize=8)
    assert image is not None  # at least one head was drawn
    fig.colorbar(image, ax=axes, shrink=0.6, label="attention weight")
    fig.suptitle(title)
    return fig
