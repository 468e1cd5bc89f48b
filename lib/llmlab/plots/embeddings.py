"""Figures for lesson 01 (word embeddings): maps of word vectors, relation arrows, similarity heatmaps.

All are plotly figures with hover labels that work in a saved notebook with
no kernel; ``neighbour_explorer`` is the one ipywidgets tool, and it prints a
static neighbour table first so readers without a kernel see a result too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmlab import embeddings as emb
from llmlab import projection
from llmlab.embedding_eval import Evaluation

#: One colour per group (plotly's qualitative "D3" palette), "other" in grey.
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
]
OTHER = "#b0b0b0"

_METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE"}


def _axis_titles(method: str, dim: int) -> list[str]:
    name = _METHOD_NAMES[method]
    if method == "pca":
        return [f"principal component {i + 1} (cosine units)" for i in range(dim)]
    return [f"{name} dimension {i + 1} (no unit)" for i in range(dim)]


def projection_scatter(
    kv,
    words: Sequence[str],
    groups: dict[str, list[str]] | None = None,
    method: str = "pca",
    dim: int = 2,
    title: str | None = None,
    label_groups: bool = True,
    **options,
) -> go.Figure:
    """Scatter of ``words`` projected to 2-D or 3-D (``method`` "pca" or "tsne"), coloured by ``groups``.

    Each point's hover label is its word and group.  Words of a named group also
    carry a text label when ``label_groups``; words in no group are grey ("other").
    Vectors are length-normalised before projecting, so the map shows cosine geometry.
    """
    kv = emb.check_words(kv, *words)
    groups = groups or {}
    group_of = {w: g for g, ws in groups.items() for w in ws}
    words = list(dict.fromkeys([*words, *group_of]))  # group words are always shown
    emb.check_words(kv, *words)
    x = np.stack([kv.get_vector(w, norm=True) for w in words])  # (N, D)
    xy = projection.project(x, method, dim, **options)  # (N, dim)
    fig = go.Figure()
    names = [*groups, "other"]
    for i, g in enumerate(names):
        idx = [j for j, w in enumerate(words) if group_of.get(w, "other") == g]
        if not idx:
            continue
        colour = OTHER if g == "other" else PALETTE[i % len(PALETTE)]
        labelled = label_groups and g != "other"
        common = dict(
            name=g,
            text=[words[j] for j in idx],
            hovertemplate="<b>%{text}</b><br>" + g + "<extra></extra>",
            mode="markers+text" if labelled else "markers",
            textposition="top center",
            marker=dict(color=colour, size=7 if labelled else 5, opacity=1.0 if labelled else 0.6),
            textfont=dict(size=10, color=colour),
        )
        if dim == 2:
            fig.add_trace(go.Scatter(x=xy[idx, 0], y=xy[idx, 1], **common))
        else:
            fig.add_trace(go.Scatter3d(x=xy[idx, 0], y=xy[idx, 1], z=xy[idx, 2], **common))
    axes = _axis_titles(method, dim)
    title = title or f"{len(words)} words, {_METHOD_NAMES[method]} to {dim}-D"
    if dim == 2:
        fig.update_layout(xaxis_title=axes[0], yaxis_title=axes[1])
    else:
        fig.update_layout(scene=dict(xaxis_title=axes[0], yaxis_title=axes[1], zaxis_title=axes[2]))
    fig.update_layout(title=title, height=600, legend_title_text="group (click to hide)")
    return fig


def relation_arrows(
    kv, pairs: Sequence[tuple[str, str]], title: str = "Relations as directions", relation: str = ""
) -> go.Figure:
    """Arrows from the first to the second word of each pair, after a 2-D PCA of the pairs' words.

    As in Mikolov et al. 2013b, figure 2 (countries and capitals): if a relation
    is a direction in the vector space, the arrows are roughly parallel.  The
    subtitle gives ``offset_consistency`` measured in the full space, since a
    2-D projection can make arrows look more or less parallel than they are.
    """
    words = list(dict.fromkeys(w for p in pairs for w in p))
    kv = emb.check_words(kv, *words)
    x = np.stack([kv.get_vector(w, norm=True) for w in words])  # (N, D)
    xy = dict(zip(words, projection.pca(x, 2)[0], strict=True))  # word -> (2,)
    fig = go.Figure()
    sources, targets = [a for a, _ in pairs], [b for _, b in pairs]
    for ws, colour, name in ((sources, PALETTE[0], "from"), (targets, PALETTE[3], "to")):
        pts = np.stack([xy[w] for w in ws])
        fig.add_trace(
            go.Scatter(
                x=pts[:, 0],
                y=pts[:, 1],
                text=ws,
                mode="markers+text",
                name=name,
                textposition="top center",
                marker=dict(color=colour, size=8),
                hovertemplate="<b>%{text}</b><extra>" + name + "</extra>",
            )
        )
    for a, b in pairs:
        fig.add_annotation(
            x=xy[b][0],
            y=xy[b][1],
            ax=xy[a][0],
            ay=xy[a][1],
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowsize=1.2,
            arrowwidth=1.5,
            arrowcolor="#555",
            text="",
            hovertext=f"{a} -> {b}",
        )
    consistency = emb.offset_consistency(kv, pairs)
    fig.update_layout(
        title=title
        + (f": {relation}" if relation else "")
        + f"<br><sup>mean cosine between the arrows in {kv.vector_size}-D: {consistency:.2f} (1 = all parallel)</sup>",
        xaxis_title="principal component 1 (cosine units)",
        yaxis_title="principal component 2 (cosine units)",
        height=500,
    )
    return fig


def similarity_heatmaps(
    words: Sequence[str], matrices: dict[str, np.ndarray], title: str
) -> go.Figure:
    """Side-by-side heatmaps of ``(N, N)`` cosine-similarity matrices on one fixed -1..1 scale."""
    fig = make_subplots(
        rows=1, cols=len(matrices), subplot_titles=list(matrices), horizontal_spacing=0.12
    )
    for i, m in enumerate(matrices.values(), start=1):
        fig.add_trace(
            go.Heatmap(
                z=np.asarray(m),
                x=list(words),
                y=list(words),
                zmin=-1,
                zmax=1,
                colorscale="RdBu",
                reversescale=True,
                texttemplate="%{z:.2f}",
                colorbar=dict(title="cosine"),
                showscale=i == len(matrices),
                hovertemplate="%{y} . %{x}: %{z:.2f}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", row=1, col=i)
    fig.update_layout(title=title, height=420)
    return fig


def analogy_accuracy_bars(evaluations: dict[str, Evaluation]) -> go.Figure:
    """Accuracy per Google-analogy category (bars) for one or more models, with coverage in the hover."""
    fig = go.Figure()
    for i, (name, ev) in enumerate(evaluations.items()):
        secs = ev.analogy_sections
        acc = [s["correct"] / s["covered"] if s["covered"] else 0.0 for s in secs]
        fig.add_trace(
            go.Bar(
                x=[s["section"] for s in secs],
                y=acc,
                name=name,
                marker_color=PALETTE[i % len(PALETTE)],
                customdata=[[s["correct"], s["covered"], s["total"]] for s in secs],
                hovertemplate="%{x}<br>accuracy %{y:.1%}: %{customdata[0]} of %{customdata[1]} covered"
                " questions<br>(%{customdata[2]} questions in the category)<extra>"
                + name
                + "</extra>",
            )
        )
    fig.update_layout(
        title="Analogy accuracy per category (covered questions only)",
        xaxis_title="category (Google analogy set)",
        yaxis_title="accuracy (share correct)",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1],
        barmode="group",
        height=450,
    )
    return fig


def loss_curve(
    losses: Sequence[float], every: int, title: str = "Skip-gram training loss"
) -> go.Figure:
    """The loss of ``train_skipgram`` (mean of every ``every`` steps) against the step."""
    steps = (np.arange(len(losses)) + 1) * every
    fig = go.Figure(go.Scatter(x=steps, y=list(losses), mode="lines", name="loss"))
    fig.update_layout(
        title=title,
        xaxis_title="optimizer step",
        yaxis_title="loss per pair (nats)",
        height=350,
        showlegend=False,
    )
    return fig


def neighbour_explorer(kv, initial: str = "king", k: int = 10, choices: Sequence[str] = ()):
    """Type a word (or pick one), see its ``k`` nearest neighbours; returns the widget box to display.

    Prints the static table for ``initial`` and ``choices`` first, so a saved
    notebook shows neighbours even without a running kernel.  Uses only
    ``Text``, ``Dropdown``, ``Output``, ``VBox``/``HBox`` and ``observe``, which
    work the same in ipywidgets 7 and 8.
    """
    import ipywidgets as widgets

    kv = emb.as_keyed_vectors(kv)
    print(emb.neighbour_table(kv, list(dict.fromkeys([initial, *choices])), k=min(k, 6)))
    text = widgets.Text(value=initial, description="word:", continuous_update=False)
    menu = widgets.Dropdown(
        options=["(type a word)", *choices], value="(type a word)", description="or pick:"
    )
    out = widgets.Output()

    def show(word: str) -> None:
        out.clear_output()
        with out:
            try:
                rows = emb.nearest(kv, word.strip().lower(), k)
            except emb.UnknownWordError as exc:
                print(exc)
                return
            print(f"nearest neighbours of {word!r} (cosine similarity)")
            for w, s in rows:
                print(f"  {w:<18} {s:+.3f}")

    def on_text(change) -> None:
        show(change["new"])

    def on_menu(change) -> None:
        if change["new"] != "(type a word)":
            text.value = change["new"]

    text.observe(on_text, names="value")
    menu.observe(on_menu, names="value")
    show(initial)
    return widgets.VBox([widgets.HBox([text, menu]), out])
