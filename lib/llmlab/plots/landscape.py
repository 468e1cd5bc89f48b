"""Figures of lesson 06: the families' attention masks, and the LLM landscape by year.

All plotly, so hover works in a saved notebook with no kernel.  The data come
from ``llmlab.objectives.family_masks`` and ``llmlab.landscape.load_models``.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmlab.landscape import ModelInfo, format_parameters, source_label

#: One colour per family, used by every figure of the lesson.
FAMILY_COLOURS = {
    "encoder": "#1f77b4",
    "encoder-decoder": "#2ca02c",
    "decoder": "#d62728",
    "undisclosed": "#7f7f7f",
}

_MASK_PANELS = [
    ("encoder-only", "Encoder-only (BERT)<br>bidirectional self-attention", "source"),
    ("decoder-only", "Decoder-only (GPT)<br>causal self-attention", "source"),
    ("decoder self-attention", "Encoder-decoder (T5): decoder<br>causal self-attention", "target"),
    (
        "decoder cross-attention",
        "Encoder-decoder (T5): decoder<br>cross-attention to the encoder",
        "cross",
    ),
]


def family_masks_figure(
    masks: dict, source_tokens: list[str], target_tokens: list[str]
) -> go.Figure:
    """Heatmaps of ``llmlab.objectives.family_masks(S, T)``: 1 = may attend, 0 = blocked.

    Queries on rows (top to bottom), keys on columns, token labels on both axes,
    one fixed 0..1 colour scale.  The encoder-decoder's encoder self-attention is
    the same bidirectional mask as the encoder-only panel, so it is not repeated.
    """
    S, T = len(source_tokens), len(target_tokens)
    fig = make_subplots(
        rows=1, cols=4, subplot_titles=[p[1] for p in _MASK_PANELS], horizontal_spacing=0.1
    )
    for col, (key, _, kind) in enumerate(_MASK_PANELS, start=1):
        m = masks[key].int().tolist()
        rows, cols = {
            "source": (source_tokens, source_tokens),
            "target": (target_tokens, target_tokens),
            "cross": (target_tokens, source_tokens),
        }[kind]
        expected = (len(rows), len(cols))
        if (len(m), len(m[0])) != expected:
            raise ValueError(
                f"mask {key!r} is {len(m)}x{len(m[0])}, expected {expected}: pass family_masks({S}, {T})."
            )
        # positions as labels ("0 The") so repeated tokens stay distinct
        ylab = [f"{i} {t}" for i, t in enumerate(rows)]
        xlab = [f"{i} {t}" for i, t in enumerate(cols)]
        fig.add_trace(
            go.Heatmap(
                z=m,
                x=xlab,
                y=ylab,
                zmin=0,
                zmax=1,
                colorscale=[[0, "#f0f0f0"], [1, "#3b6ea8"]],
                showscale=col == 4,
                xgap=1,
                ygap=1,
                colorbar=dict(title="may attend", tickvals=[0, 1], ticktext=["0 no", "1 yes"]),
                hovertemplate="query %{y}<br>key %{x}<br>may attend: %{z}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_yaxes(autorange="reversed", row=1, col=col, tickfont=dict(size=9))
        fig.update_xaxes(tickangle=-60, tickfont=dict(size=9), row=1, col=col)
    fig.update_yaxes(title_text="query (source tokens)", row=1, col=1)
    fig.update_yaxes(title_text="query (target tokens)", row=1, col=3)
    for col in (1, 2, 4):
        fig.update_xaxes(title_text="key (source tokens)", row=1, col=col)
    fig.update_xaxes(title_text="key (target tokens)", row=1, col=3)
    for a in fig.layout.annotations:
        a.font.size = 11
    fig.update_layout(
        title="Who may attend to whom: the attention mask of each family",
        height=430,
        width=1200,
        margin=dict(t=110, b=90, l=90),
    )
    return fig


def _hover(m: ModelInfo) -> str:
    layers = (
        "undisclosed" if m.layers is None and m.family == "undisclosed" else (m.layers or "n/a")
    )
    context = f"{m.context_tokens:,} tokens" if m.context_tokens else "not stated"
    sources = "<br>".join(
        f"  {figure}: {source_label(url)}" for figure, url in m.figure_sources().items()
    )
    return (
        f"<b>{m.name}</b> ({m.organisation}, {m.released})<br>family: {m.family}<br>"
        f"objective: {m.objective}<br>parameters: {format_parameters(m.parameters_millions)}<br>"
        f"layers: {layers}<br>context: {context}<br>sources:<br>{sources}"
    )


def landscape_figure(models: list[ModelInfo], y: str = "parameters") -> go.Figure:
    """Models by release date, log y: ``y="parameters"`` (count) or ``y="context"`` (tokens).

    One colour per family; hover shows every figure and the source.  Models
    without that figure (undisclosed, or not stated) are left out and listed
    under the chart, never plotted at a guessed value.
    """
    if y not in ("parameters", "context"):
        raise ValueError(f"y must be 'parameters' or 'context', got {y!r}.")
    value = (lambda m: m.parameters) if y == "parameters" else (lambda m: m.context_tokens)
    fig = go.Figure()
    for family, colour in FAMILY_COLOURS.items():
        ms = [m for m in models if m.family == family and value(m)]
        if not ms:
            continue
        fig.add_trace(
            go.Scatter(
                x=[f"{m.released}-15" for m in ms],
                y=[value(m) for m in ms],
                mode="markers",
                name=family,
                marker=dict(size=10, color=colour, line=dict(width=1, color="white")),
                text=[_hover(m) for m in ms],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    # one label per series (its largest model; for context, the series name), alternating
    # above and below so that neighbours do not overlap
    best: dict[str, ModelInfo] = {}
    for m in models:
        if value(m) and (m.series not in best or value(m) > value(best[m.series])):
            best[m.series] = m
    # series with the same value in the same year share one label ("LLaMA, Falcon"); a label
    # goes below its point when another labelled point sits just above it
    groups: dict[tuple[int, float], list[ModelInfo]] = {}
    for m in sorted(best.values(), key=lambda m: m.released):
        groups.setdefault((m.year, value(m)), []).append(m)
    firsts = [ms[0] for ms in groups.values()]
    for ms in groups.values():
        m = ms[0]
        crowded = any(
            o is not m
            and _months_apart(o, m) <= 6
            and 0 < _log10(value(o)) - _log10(value(m)) < 0.35
            for o in firsts
        )
        label = ", ".join(x.name if y == "parameters" else x.series for x in ms)
        fig.add_annotation(
            x=f"{m.released}-15",
            y=_log10(value(m)),
            text=label,
            showarrow=False,
            yshift=-12 if crowded else 12,
            font=dict(size=9, color=FAMILY_COLOURS[m.family]),
        )
    missing = [m.name for m in models if not value(m)]
    what = "Parameters" if y == "parameters" else "Context length (tokens)"
    note = (
        (
            "Not plotted ("
            + ("undisclosed" if y == "parameters" else "no single figure stated")
            + "): "
            + ", ".join(missing)
        )
        if missing
        else ""
    )
    fig.update_layout(
        title=f"{what} of well-known models by release date (log scale)",
        xaxis_title="release date (first paper or model card)",
        yaxis_title="parameters (count)" if y == "parameters" else "context length (tokens)",
        yaxis_type="log",
        height=480,
        width=950,
        legend_title="family",
        margin=dict(b=120 if note else 60),
    )
    if note:
        fig.add_annotation(
            text=_wrap(note, 140),
            xref="paper",
            yref="paper",
            x=0,
            y=-0.2,
            showarrow=False,
            align="left",
            xanchor="left",
            yanchor="top",
            font=dict(size=10, color="#555"),
        )
    return fig


def _log10(v: float) -> float:
    import math

    return math.log10(v)


def _months_apart(a: ModelInfo, b: ModelInfo) -> int:
    ya, ma = map(int, a.released.split("-"))
    yb, mb = map(int, b.released.split("-"))
    return abs((ya - yb) * 12 + ma - mb)


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "<br>".join(lines)
