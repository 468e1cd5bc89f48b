"""Figures of lesson 02: position encodings seen as pictures.

- :func:`encoding_heatmap`: the classic picture, positions on rows, dimensions on
  columns, a diverging colour map centred on 0 (blue < 0 < red).
- :func:`dimension_lines`: a few columns of the table as waves over the positions.
- :func:`wavelength_plot`: the wavelength of every pair of dimensions (log scale).
- :func:`interactive_sinusoidal`: the heatmap with two sliders built into the plotly
  figure (``d_model`` and the number of positions shown), no kernel needed.
- :func:`similarity_heatmap`: position-by-position dot products or cosines.
- :func:`learned_vs_sinusoidal`: learned positions next to sinusoidal ones
  (cosine-similarity heatmaps and 2-D PCA paths).
- :func:`rope_2d`: one pair of dimensions rotated by ``m·θ`` at a few positions.
- :func:`embedding_sum`: token vectors + position vectors = the first block's input.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
import torch

from llmlab import positional, projection
from llmlab.plots.attention import SCORE_COLORSCALE, display_token

#: Diverging matplotlib colour map for values centred on 0 (the plotly twin is SCORE_COLORSCALE).
DIVERGING_CMAP = "RdBu_r"


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=float)


def _check_2d(x: np.ndarray, what: str) -> None:
    if x.ndim != 2:
        raise ValueError(
            f"{what} must be a 2-D (positions, dimensions) matrix, got shape {x.shape}."
        )


def _axes(ax, figsize=(7.0, 4.0)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def _symmetric_image(ax, z: np.ndarray, bound: float | None = None, colorbar_label: str = "value"):
    bound = float(np.abs(z).max()) if bound is None else bound
    bound = bound or 1.0
    im = ax.imshow(
        z, cmap=DIVERGING_CMAP, vmin=-bound, vmax=bound, aspect="auto", interpolation="nearest"
    )
    ax.grid(False)
    ax.figure.colorbar(im, ax=ax, label=colorbar_label, fraction=0.05)
    return im


def encoding_heatmap(
    pe,
    ax=None,
    title: str = "Sinusoidal position encoding",
    bound: float | None = 1.0,
    row_labels: Sequence[str] | None = None,
    ylabel: str = "position (pos)",
    xlabel: str = "dimension (2i = sin, 2i+1 = cos)",
):
    """Heatmap of a position table ``(n_positions, d)``: positions down, dimensions across.

    Diverging colours centred on 0, from ``-bound`` to ``+bound`` (1 for sinusoids;
    ``None`` takes the largest absolute value, for learned tables).  ``row_labels``
    replaces position numbers by tokens.  Returns the matplotlib figure.
    """
    z = _np(pe)
    _check_2d(z, "pe")
    fig, ax = _axes(ax)
    _symmetric_image(ax, z, bound)
    if row_labels is not None:
        ax.set_yticks(range(len(row_labels)), [display_token(t) for t in row_labels])
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return fig


def dimension_lines(pe, dims: Sequence[int], ax=None, title: str = "A few dimensions of the table"):
    """Plot columns ``dims`` of a sinusoidal table as curves over position.

    Each legend entry says which pair ``i`` a dimension belongs to (dimension ``2i`` is
    the sine, ``2i+1`` the cosine of the same frequency).
    """
    z = _np(pe)
    _check_2d(z, "pe")
    bad = [d for d in dims if not 0 <= d < z.shape[1]]
    if bad:
        raise ValueError(
            f"dims {bad} are outside 0..{z.shape[1] - 1} (the table has {z.shape[1]} dimensions)."
        )
    fig, ax = _axes(ax)
    for d in dims:
        kind = "sin" if d % 2 == 0 else "cos"
        ax.plot(np.arange(z.shape[0]), z[:, d], lw=1.2, label=f"dim {d} ({kind}, pair i={d // 2})")
    ax.set(title=title, xlabel="position (pos)", ylabel="PE(pos, dim)", ylim=(-1.15, 1.6))
    ax.legend(loc="upper right", ncols=2, fontsize=8)
    return fig


def wavelength_plot(d_model: int, base: float = 10000.0, ax=None):
    """Wavelength (in positions) of every pair ``i`` on a log scale: a straight line.

    Dashed lines mark 2π and ``base·2π``, the bounds Vaswani et al. give.
    """
    w = positional.wavelengths(d_model, base).numpy()
    fig, ax = _axes(ax)
    ax.semilogy(np.arange(len(w)), w, "o-", ms=3, label=f"2π·{base:g}^(2i/{d_model})")
    ax.axhline(2 * np.pi, ls="--", c="gray")
    ax.axhline(base * 2 * np.pi, ls="--", c="gray")
    ax.text(len(w) * 0.45, 2 * np.pi * 1.3, "2π ≈ 6.28", color="gray")
    ax.text(
        len(w) * 0.45,
        base * 2 * np.pi * 0.45,
        f"{base:g}·2π ≈ {base * 2 * np.pi:,.0f}",
        color="gray",
    )
    ax.set(
        title=f"Wavelength of each pair of dimensions (d_model = {d_model})",
        xlabel="pair index i (dimensions 2i and 2i+1)",
        ylabel="wavelength (positions, log scale)",
    )
    ax.legend(loc="center left")
    return fig


#: Where the two sliders of ``interactive_sinusoidal`` sit: side by side under the heatmap.
_SLIDER = dict(len=0.45, y=-0.18, pad=dict(t=30))


def interactive_sinusoidal(
    d_models: Sequence[int] = (16, 32, 64, 128),
    position_counts: Sequence[int] = (10, 25, 50, 100),
    base: float = 10000.0,
    height: int = 520,
) -> go.Figure:
    """The sinusoidal heatmap with two sliders inside the plotly figure.

    One slider jumps to a precomputed frame per ``d_model`` (float32 tables, which
    plotly stores compactly as binary); the other changes how many positions are
    shown (the y-axis range).  The sliders act independently and need no kernel.
    """
    d_models, position_counts = list(d_models), list(position_counts)
    if not d_models or not position_counts:
        raise ValueError("give at least one d_model and one position count.")
    n_max = max(position_counts)
    tables = {d: positional.sinusoidal(n_max, d).numpy().astype(np.float32) for d in d_models}
    hover = "pos %{y}<br>dim %{x}<br>PE %{z:.3f}<extra></extra>"
    d0, n0 = d_models[len(d_models) // 2], position_counts[-1]

    def heatmap(d: int) -> go.Heatmap:
        return go.Heatmap(
            z=tables[d],
            colorscale=SCORE_COLORSCALE,
            zmin=-1,
            zmax=1,
            hovertemplate=hover,
            colorbar=dict(title="PE", len=0.75),
        )

    frames = [
        go.Frame(
            name=f"d_model={d}", data=[heatmap(d)], layout=dict(xaxis=dict(range=[-0.5, d - 0.5]))
        )
        for d in d_models
    ]
    fig = go.Figure(heatmap(d0), frames=frames)
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    d_steps = [
        dict(label=str(d), method="animate", args=[[f"d_model={d}"], jump]) for d in d_models
    ]
    n_steps = [
        dict(label=str(n), method="relayout", args=[{"yaxis.range": [n - 0.5, -0.5]}])
        for n in position_counts
    ]
    fig.update_layout(
        title=f"Sinusoidal position encoding (base {base:g}): move the sliders",
        xaxis=dict(title="dimension (2i = sin, 2i+1 = cos)", range=[-0.5, d0 - 0.5]),
        yaxis=dict(title="position (pos)", range=[n0 - 0.5, -0.5]),
        height=height,
        width=760,
        margin=dict(t=60, b=170),
        sliders=[
            dict(active=active, steps=steps, currentvalue=dict(prefix=prefix), x=x, **_SLIDER)
            for active, steps, prefix, x in [
                (d_models.index(d0), d_steps, "d_model = ", 0.0),
                (position_counts.index(n0), n_steps, "positions shown = ", 0.55),
            ]
        ],
    )
    return fig


def similarity_heatmap(
    sim,
    ax=None,
    title: str = "Dot product PE(m) · PE(n)",
    label: str = "dot product",
    bound: float | None = None,
):
    """A position-by-position matrix (dot products or cosines), diverging colours centred on 0."""
    z = _np(sim)
    _check_2d(z, "sim")
    fig, ax = _axes(ax, figsize=(5.5, 4.5))
    _symmetric_image(ax, z, bound, colorbar_label=label)
    ax.set(title=title, xlabel="position n", ylabel="position m")
    return fig


def _pca_path(ax, table: np.ndarray, title: str):
    c, explained = projection.pca(table)  # (n, 2), (2,)
    ax.plot(c[:, 0], c[:, 1], "-", c="lightgray", lw=0.8, zorder=1)
    sc = ax.scatter(c[:, 0], c[:, 1], c=np.arange(len(c)), cmap="viridis", s=14, zorder=2)
    for p in (0, len(c) - 1):
        ax.annotate(f"pos {p}", c[p], textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set(
        title=title,
        xlabel=f"PC 1 ({explained[0]:.0%} of variance)",
        ylabel=f"PC 2 ({explained[1]:.0%} of variance)",
    )
    return sc


def learned_vs_sinusoidal(learned, sinusoidal_table=None, base: float = 10000.0):
    """Learned position embeddings next to a sinusoidal table of the same shape.

    Top row: cosine similarity between every pair of positions (1 on the diagonal).
    Bottom row: the positions projected on their first two principal components, coloured
    by position and joined in order, so a smooth path means neighbours are alike.
    """
    learned = _np(learned)
    _check_2d(learned, "learned")
    n, d = learned.shape
    sin = (
        positional.sinusoidal(n, d, base).numpy()
        if sinusoidal_table is None
        else _np(sinusoidal_table)
    )
    fig, axes = plt.subplots(2, 2, figsize=(9, 7.6), layout="constrained")
    for col, (table, name) in enumerate([(learned, "learned (mini GPT)"), (sin, "sinusoidal")]):
        sim = positional.position_similarity(torch.from_numpy(table).float(), cosine=True)
        similarity_heatmap(
            sim, ax=axes[0, col], title=f"Cosine similarity, {name}", label="cosine", bound=1.0
        )
        sc = _pca_path(axes[1, col], table, f"PCA of the position vectors, {name}")
    fig.colorbar(sc, ax=axes[1, :], label="position", fraction=0.03)
    fig.suptitle(f"{n} positions x {d} dimensions")
    return fig


def rope_2d(
    vector=(1.0, 0.3), positions: Sequence[int] = (0, 1, 2, 3, 4, 5), theta: float = 0.5, ax=None
):
    """One pair of dimensions ``(a, b)`` rotated by ``m·θ`` at each position ``m`` (RoPE in 2-D).

    Arrows start at the origin; each is the same vector turned by a further ``θ`` radians,
    computed with :func:`llmlab.positional.apply_rope` (so the picture is the library's maths).
    """
    v = torch.tensor(vector, dtype=torch.float64)
    if v.shape != (2,):
        raise ValueError(
            f"vector must have 2 numbers (one pair of dimensions), got {tuple(v.shape)}."
        )
    pos = torch.tensor(list(positions))
    # a head of 2 dimensions has one pair with theta_0 = base^0 = 1 rad, so pass m·theta as the position
    rotated = positional.apply_rope(v.expand(len(pos), 2).clone(), pos.double() * theta).numpy()
    fig, ax = _axes(ax, figsize=(5.5, 5.5))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(pos)))
    r = float(v.norm())
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(r * np.cos(t), r * np.sin(t), c="lightgray", lw=0.8)
    for m, (x, y), c in zip(pos.tolist(), rotated, colors, strict=True):
        ax.annotate(
            "", xy=(x, y), xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color=c, lw=1.8)
        )
        ax.text(1.12 * x, 1.12 * y, f"m={m}", color=c, ha="center", va="center", fontsize=9)
    lim = 1.35 * r
    ax.set(
        xlim=(-lim, lim),
        ylim=(-lim, lim),
        aspect="equal",
        title=f"RoPE on one pair: rotate by m·θ (θ = {theta:g} rad)",
        xlabel="dimension 2i",
        ylabel="dimension 2i+1",
    )
    return fig


def embedding_sum(
    tokens_vecs, pos_vecs, tokens: Sequence[str], titles=("token embedding", "position", "sum")
):
    """Three heatmaps side by side: token vectors, position vectors and their sum ``(T, d)``.

    All three share one symmetric colour scale, so their sizes compare by eye.
    """
    a, b = _np(tokens_vecs), _np(pos_vecs)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"token and position vectors must both be (T, d), got {a.shape} and {b.shape}."
        )
    if len(tokens) != a.shape[0]:
        raise ValueError(f"{len(tokens)} token labels for {a.shape[0]} rows.")
    mats = [a, b, a + b]
    bound = max(float(np.abs(m).max()) for m in mats)
    fig, axes = plt.subplots(
        1, 3, figsize=(12, 0.22 * a.shape[0] + 2.2), layout="constrained", sharey=True
    )
    for ax, m, title in zip(axes, mats, titles, strict=True):
        im = ax.imshow(
            m, cmap=DIVERGING_CMAP, vmin=-bound, vmax=bound, aspect="auto", interpolation="nearest"
        )
        ax.grid(False)
        ax.set(title=title, xlabel="dimension")
    axes[0].set_yticks(
        range(len(tokens)), [f"{display_token(t)} @{p}" for p, t in enumerate(tokens)]
    )
    axes[0].set_ylabel("token @ position")
    fig.colorbar(im, ax=axes, label="value", fraction=0.03)
    return fig
