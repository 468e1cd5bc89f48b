"""The LLM landscape as data: ``data/models.csv``, read and checked (lesson 06).

One row per model.  The columns, and their units:

==========================  ===============================================================
``name``                    the model, e.g. "BERT-Large"
``series``                  the line it belongs to, e.g. "BERT", "Llama 2"
``organisation``            who built it
``year``, ``released``      year, and "YYYY-MM" of the first public release (paper or model)
``family``                  "encoder", "encoder-decoder", "decoder", or "undisclosed"
``objective``               the pre-training objective (then any fine-tuning)
``parameters_millions``     parameters, in **millions** (empty = undisclosed; see ``notes``)
``layers``                  transformer layers; for an encoder-decoder, the layers of *each* stack
``context_tokens``          the longest input, in **tokens** (empty = no single figure stated)
``training_tokens_billions`` pre-training tokens, in **billions** (empty = not recorded here)
``attention``               "multi-head", "grouped-query" or "multi-query" (empty = not recorded)
``source``                  primary source (paper or official model card) of the row
``parameters_source``,      the source of each figure, where it differs from ``source``
``layers_source``,          (empty = the same as ``source``); :meth:`ModelInfo.source_of`
``context_source``,         resolves it, and :func:`markdown_table` links every figure to
``training_tokens_source``, its own source
``attention_source``
``notes``                   caveats, quotes, corrections (shown as footnotes by :func:`markdown_table`)
==========================  ===============================================================

Every figure has a primary source: the paper that introduced the model or its
official model card / announcement.  Where a number was never published
(GPT-4's parameter count, anything about Claude but its context length) the
cell is empty and ``notes`` says so: a rumour is not a figure.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from llmlab.paths import data_dir

FAMILIES = ("encoder", "encoder-decoder", "decoder", "undisclosed")

#: The columns of models.csv, in order.
COLUMNS = (
    "name",
    "series",
    "organisation",
    "year",
    "released",
    "family",
    "objective",
    "parameters_millions",
    "layers",
    "context_tokens",
    "training_tokens_billions",
    "attention",
    "source",
    "parameters_source",
    "layers_source",
    "context_source",
    "training_tokens_source",
    "attention_source",
    "notes",
)

#: Each figure, the column holding it, and the column naming its source.
FIGURES: dict[str, tuple[str, str]] = {
    "parameters": ("parameters_millions", "parameters_source"),
    "layers": ("layers", "layers_source"),
    "context": ("context_tokens", "context_source"),
    "training tokens": ("training_tokens_billions", "training_tokens_source"),
    "attention": ("attention", "attention_source"),
}

ATTENTION_KINDS = ("multi-head", "grouped-query", "multi-query")

#: Plausible bounds used by the checks (the transformer is from 2017).
FIRST_YEAR, LAST_YEAR = 2017, 2030


class ModelTableError(ValueError):
    """models.csv is malformed; the message names the row and the column to fix."""


@dataclass(frozen=True)
class ModelInfo:
    """One row of models.csv, typed.  Missing figures are ``None``."""

    name: str
    series: str
    organisation: str
    year: int
    released: str
    family: str
    objective: str
    parameters_millions: float | None
    layers: int | None
    context_tokens: int | None
    training_tokens_billions: float | None
    attention: str
    source: str
    parameters_source: str
    layers_source: str
    context_source: str
    training_tokens_source: str
    attention_source: str
    notes: str

    @property
    def parameters(self) -> float | None:
        """The parameter count as a plain number (e.g. 1.75e11), or None if undisclosed."""
        return None if self.parameters_millions is None else self.parameters_millions * 1e6

    def source_of(self, figure: str) -> str:
        """The primary source of ``figure``, one of :data:`FIGURES` ("parameters", "layers", ...)."""
        if figure not in FIGURES:
            raise KeyError(f"figure must be one of {list(FIGURES)}, got {figure!r}.")
        return getattr(self, FIGURES[figure][1]) or self.source

    def figure_sources(self) -> dict[str, str]:
        """Every figure this row states, mapped to its source (figures left empty are omitted)."""
        return {
            f: self.source_of(f)
            for f, (column, _) in FIGURES.items()
            if getattr(self, column) not in (None, "")
        }


def default_path() -> Path:
    """The shipped table: ``data_dir() / "models.csv"``."""
    return data_dir() / "models.csv"


def _number(text: str, kind, row: int, column: str):
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise ModelTableError(f"row {row}, column {column}: {text!r} is not a number.") from None
    if value <= 0:
        raise ModelTableError(f"row {row}, column {column}: {value} must be positive.")
    return value


def _check_url(url: str, row: int, column: str) -> None:
    if url and not url.startswith("https://"):
        raise ModelTableError(
            f"row {row}, column {column}: {url!r} is not an https:// link to a source."
        )


def parse_rows(rows: list[dict[str, str]]) -> list[ModelInfo]:
    """Turn CSV rows (dicts of strings) into checked ``ModelInfo``s; raise ``ModelTableError`` on a bad row.

    The checks: every column present; a name and a source on every row, and
    every link https; family one of ``FAMILIES``; year a plausible integer
    matching ``released``; parameters, layers and context positive numbers in
    the units of their column; names unique; an empty parameter count explained
    in ``notes``.
    """
    models, seen = [], set()
    for i, raw in enumerate(rows, start=2):  # row 1 is the header
        missing = [c for c in COLUMNS if c not in raw]
        if missing:
            raise ModelTableError(
                f"row {i}: missing column(s) {missing}; the columns are {list(COLUMNS)}."
            )
        r = {k: (v or "").strip() for k, v in raw.items() if k in COLUMNS}
        if not r["name"]:
            raise ModelTableError(f"row {i}: the name is empty.")
        where = f"row {i} ({r['name']})"
        if r["name"] in seen:
            raise ModelTableError(f"{where}: duplicate name.")
        seen.add(r["name"])
        if not r["source"]:
            raise ModelTableError(
                f"{where}: no source; every row needs a primary source (paper or model card)."
            )
        for column in ("source", *(src for _, src in FIGURES.values())):
            _check_url(r[column], i, column)
        for column, src in FIGURES.values():
            if r[src] and not r[column]:
                raise ModelTableError(
                    f"{where}: {src} is set but {column} is empty; a source needs a figure."
                )
        if r["attention"] and r["attention"] not in ATTENTION_KINDS:
            raise ModelTableError(
                f"{where}: attention {r['attention']!r} is not one of {ATTENTION_KINDS}."
            )
        if r["family"] not in FAMILIES:
            raise ModelTableError(f"{where}: family {r['family']!r} is not one of {FAMILIES}.")
        try:
            year = int(r["year"])
        except ValueError:
            raise ModelTableError(f"{where}: year {r['year']!r} is not an integer.") from None
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ModelTableError(
                f"{where}: year {year} is implausible (expected {FIRST_YEAR}..{LAST_YEAR})."
            )
        if not (
            len(r["released"]) == 7
            and r["released"][:4] == str(year)
            and r["released"][4] == "-"
            and 1 <= int(r["released"][5:] or 0) <= 12
        ):
            raise ModelTableError(
                f"{where}: released {r['released']!r} must be 'YYYY-MM' in year {year}."
            )
        params = _number(r["parameters_millions"], float, i, "parameters_millions")
        if params is not None and params > 1e8:
            raise ModelTableError(
                f"{where}: {params} million parameters is implausible; the unit is millions."
            )
        if params is None and not r["notes"]:
            raise ModelTableError(
                f"{where}: no parameter count; say why in notes (e.g. 'undisclosed')."
            )
        layers = _number(r["layers"], int, i, "layers")
        context = _number(r["context_tokens"], int, i, "context_tokens")
        tokens = _number(r["training_tokens_billions"], float, i, "training_tokens_billions")
        if tokens is not None and tokens > 1e6:
            raise ModelTableError(
                f"{where}: {tokens} billion training tokens is implausible; the unit is billions."
            )
        models.append(
            ModelInfo(
                name=r["name"],
                series=r["series"],
                organisation=r["organisation"],
                year=year,
                released=r["released"],
                family=r["family"],
                objective=r["objective"],
                parameters_millions=params,
                layers=layers,
                context_tokens=context,
                training_tokens_billions=tokens,
                attention=r["attention"],
                source=r["source"],
                parameters_source=r["parameters_source"],
                layers_source=r["layers_source"],
                context_source=r["context_source"],
                training_tokens_source=r["training_tokens_source"],
                attention_source=r["attention_source"],
                notes=r["notes"],
            )
        )
    if not models:
        raise ModelTableError("the table has no rows.")
    return models


def load_models(path: str | Path | None = None) -> list[ModelInfo]:
    """Read and check models.csv (the shipped one by default), in release order."""
    path = Path(path) if path is not None else default_path()
    if not path.is_file():
        raise FileNotFoundError(f"No model table at {path.name}; the course ships data/models.csv.")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = tuple(reader.fieldnames or ())
        if header != COLUMNS:
            raise ModelTableError(f"the header must be {list(COLUMNS)}, got {list(header)}.")
        models = parse_rows(list(reader))
    return sorted(models, key=lambda m: (m.released, m.parameters_millions or 0.0))


def find(models: list[ModelInfo], name: str) -> ModelInfo:
    """The model called ``name`` (case-insensitive), with a hint listing close names if absent."""
    for m in models:
        if m.name.lower() == name.lower():
            return m
    import difflib

    close = difflib.get_close_matches(name, [m.name for m in models], n=3, cutoff=0.4)
    raise KeyError(
        f"No model {name!r} in the table" + (f"; did you mean {close}?" if close else ".")
    )


def format_parameters(millions: float | None) -> str:
    """A readable parameter count: 117 -> "117M", 1542 -> "1.54B", 175000 -> "175B", None -> "undisclosed"."""
    if millions is None:
        return "undisclosed"
    if millions < 1000:
        return f"{millions:g}M"
    return f"{millions / 1000:.3g}B"


def format_tokens(billions: float | None) -> str:
    """A readable token count: 300 -> "300B", 1400 -> "1.4T", None -> "-"."""
    if billions is None:
        return "-"
    return f"{billions:g}B" if billions < 1000 else f"{billions / 1000:g}T"


def source_label(url: str) -> str:
    """A short name for a source link: "arXiv 2307.09288", "HF meta-llama/Llama-2-7b-hf", a host name."""
    host, _, path = url.removeprefix("https://").partition("/")
    if host == "arxiv.org":
        return "arXiv " + path.rsplit("/", 1)[-1]
    if host == "huggingface.co":
        return "HF " + "/".join(path.split("/")[:2])
    if path.endswith("language_understanding_paper.pdf"):
        return "GPT paper (Radford et al. 2018)"
    if path.endswith("language_models_are_unsupervised_multitask_learners.pdf"):
        return "GPT-2 paper (Radford et al. 2019)"
    if host == "github.com":
        return "GitHub " + "/".join(path.split("/")[:2])
    return host.removeprefix("www.")


def _cell(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url and text not in ("-", "") else text


def markdown_table(models: list[ModelInfo], with_sources: bool = True) -> str:
    """The table as markdown (for ``IPython.display.Markdown``), one row per model.

    With ``with_sources`` every figure links to *its own* source (:meth:`ModelInfo.source_of`:
    GPT-1's 117M to the GPT-2 paper, which states it, not to the GPT paper, which does
    not), the last column links the row's main source, and each row's notes follow the
    table as numbered footnotes, marked after the model's name.
    """
    head = [
        "model",
        "organisation",
        "released",
        "family",
        "objective",
        "parameters",
        "layers",
        "context (tokens)",
        "training tokens",
        "attention",
    ]
    if with_sources:
        head.append("main source")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes: list[str] = []
    for m in models:
        src = m.figure_sources() if with_sources else {}
        name = m.name
        if with_sources and m.notes:
            notes.append(f"[{len(notes) + 1}] **{m.name}**: {m.notes}")
            name += f" [{len(notes)}]"
        layers = (
            "undisclosed"
            if m.layers is None and m.family == "undisclosed"
            else (str(m.layers) if m.layers else "-")
        )
        cells = [
            name,
            m.organisation,
            m.released,
            m.family,
            m.objective,
            _cell(format_parameters(m.parameters_millions), src.get("parameters")),
            _cell(layers, src.get("layers")),
            _cell(f"{m.context_tokens:,}" if m.context_tokens else "-", src.get("context")),
            _cell(format_tokens(m.training_tokens_billions), src.get("training tokens")),
            _cell(m.attention or "-", src.get("attention")),
        ]
        if with_sources:
            cells.append(f"[{source_label(m.source)}]({m.source})")
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    if with_sources:
        lines = [
            'Each figure links to the source that states it; "main source" is the row\'s paper or model card; '
            'numbered notes follow the table. "-" = not stated (or not recorded here).',
            "",
            *lines,
        ]
        lines += ["", "**Notes**", ""] + [n.replace("|", "/") + "  " for n in notes]
    return "\n".join(lines)
