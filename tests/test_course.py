"""The course itself: every committed lesson notebook is executed, clean, lean and follows the lesson layout.

These tests read the committed notebooks (they do not run them: nbval does, in
`make test`).  They fail when a notebook was saved unexecuted or out of order,
carries an error or a path of the machine that ran it, embeds plotly.js, or
drifts from the conventions that `tools/sync_notebooks.py` and
`llmlab.course` define.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from llmlab import course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]

MAX_BYTES = 5 * 2**20
#: A path of the machine that executed a notebook (user folders, scratch, the checkout).
MACHINE_PATH = re.compile(
    r"(/work/|/root/|/tmp/|/home/[^/\s\"']+/|/Users/[^/\s\"']+/|[A-Za-z]:\\\\Users\\\\)"
)
#: Text that only the plotly.js bundle itself contains (an embedded copy is 3+ MB).
PLOTLY_BUNDLE = re.compile(r"plotly\.js v\d|Plotly\.register\(|@license.*plotly", re.S)
REQUIRED_HEADINGS = ("Summary", "Exercises", "Sources")


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=IDS)
def notebook(request):
    path = request.param
    nb = nbformat.read(path, as_version=4)
    return path, nb


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _output_texts(cell) -> list[str]:
    """Every piece of text in a code cell's outputs."""
    texts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            texts.append(out.text)
        elif out.output_type == "error":
            texts.append("\n".join(out.get("traceback", [])))
        for value in out.get("data", {}).values():
            texts.append(value if isinstance(value, str) else json.dumps(value))
    return texts


def _tagged(nb, tag):
    return [(i, c) for i, c in enumerate(nb.cells) if tag in c.get("metadata", {}).get("tags", [])]


def _headings(nb) -> list[str]:
    return [
        line.lstrip("#").strip()
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("#")
    ]


# ------------------------------------------------------------------ the course is complete


def test_every_lesson_has_its_notebook():
    missing = [item.path for item in course.LESSONS if not (ROOT / item.path).is_file()]
    assert not missing, f"lessons without a notebook: {missing}"


def test_every_notebook_is_a_lesson():
    stems = {item.stem for item in course.LESSONS}
    strays = [p.name for p in NOTEBOOKS if p.stem not in stems]
    assert not strays, f"notebooks that llmlab.course.LESSONS does not list: {strays}"


# ------------------------------------------------------------------ each notebook


def test_valid_and_small(notebook):
    path, nb = notebook
    nbformat.validate(nb)
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size / 2**20:.1f} MB"


def test_executed_in_order(notebook):
    path, nb = notebook
    counts = [c.execution_count for c in _code_cells(nb) if c.source.strip()]
    assert counts, f"{path.name} has no code"
    assert None not in counts, f"{path.name}: {counts.count(None)} code cells were not executed"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name} was not executed top to bottom in one run (execution counts {counts}); "
        f"run `make notebooks NB=notebooks/{path.name}`"
    )


def test_no_error_outputs(notebook):
    path, nb = notebook
    for i, cell in enumerate(_code_cells(nb)):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors, (
            f"{path.name}, code cell {i}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        )
        stderr = "".join(
            o.text
            for o in cell.get("outputs", [])
            if o.output_type == "stream" and o.name == "stderr"
        )
        assert "Traceback (most recent call last)" not in stderr, (
            f"{path.name}, code cell {i} printed a traceback"
        )


def test_no_paths_of_the_machine_that_ran_it(notebook):
    path, nb = notebook
    for i, cell in enumerate(_code_cells(nb)):
        for text in _output_texts(cell):
            found = MACHINE_PATH.search(text)
            assert not found, (
                f"{path.name}, code cell {i} prints a local path: ...{text[max(0, found.start() - 40) : found.end() + 40]}..."
            )
    widgets = json.dumps(nb.metadata.get("widgets", {}))
    assert not MACHINE_PATH.search(widgets), f"{path.name}: saved widget state holds a local path"


def test_no_embedded_plotly_js(notebook):
    path, nb = notebook
    for i, cell in enumerate(_code_cells(nb)):
        for text in _output_texts(cell):
            assert len(text) < 2**20 or "plotly" not in text.lower(), (
                f"{path.name}, code cell {i}: a {len(text) / 2**20:.1f} MB output mentions plotly: "
                "plotly.js was embedded; use llmlab.setup_notebook()'s renderer"
            )
            assert not PLOTLY_BUNDLE.search(text), f"{path.name}, code cell {i} embeds plotly.js"


def test_saved_widgets_have_their_state(notebook):
    path, nb = notebook
    views = [
        out["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for cell in _code_cells(nb)
        for out in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    if not views:
        return
    state = (
        nb.metadata.get("widgets", {})
        .get("application/vnd.jupyter.widget-state+json", {})
        .get("state", {})
    )
    missing = [v for v in views if v not in state]
    assert not missing, (
        f"{path.name}: widget views without saved state (a static viewer shows an error): {missing}"
    )


def test_opens_with_title_badges_and_intro(notebook):
    path, nb = notebook
    item = course.lesson(path.stem)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith(f"# Lesson {path.stem[:2]}: {item.title}"), (
        f"{path.name} must open with '# Lesson {path.stem[:2]}: {item.title}' (llmlab.course's title)"
    )
    badges = _tagged(nb, "llmlab-badges")
    assert [i for i, _ in badges] == [1], (
        f"{path.name}: the second cell must be the one tagged llmlab-badges"
    )
    assert badges[0][1].cell_type == "markdown"
    assert badges[0][1].source == course.badges_markdown(path.stem), "run tools/sync_notebooks.py"
    intro = nb.cells[2]
    assert intro.cell_type == "markdown"
    for part in ("What you will learn", "Prerequisites", "Run time"):
        assert part in intro.source, f"{path.name}: the third cell needs '{part}'"


def test_setup_cell_then_setup_notebook(notebook):
    path, nb = notebook
    setup = _tagged(nb, "llmlab-setup")
    assert len(setup) == 1, f"{path.name} needs exactly one cell tagged llmlab-setup"
    index, cell = setup[0]
    assert cell.cell_type == "code"
    assert cell.source == course.setup_cell_source(), "run tools/sync_notebooks.py"
    assert not cell.get("outputs"), (
        f"{path.name}: the setup cell printed something (it should be silent)"
    )
    after = [c for c in nb.cells[index + 1 :] if c.cell_type == "code"][0]
    assert "llmlab.setup_notebook(" in after.source, (
        f"{path.name}: the first code cell after the setup cell must call llmlab.setup_notebook()"
    )


def test_ends_with_summary_exercises_and_sources(notebook):
    path, nb = notebook
    headings = _headings(nb)
    positions = []
    for name in REQUIRED_HEADINGS:
        found = [i for i, h in enumerate(headings) if h == name or h.startswith(name)]
        assert found, f"{path.name} has no '{name}' heading"
        positions.append(found[-1])
    assert positions == sorted(positions), (
        f"{path.name}: Summary, Exercises and Sources must come in that order"
    )
    sources = nb.cells[-1].source if nb.cells[-1].cell_type == "markdown" else ""
    assert "http" in sources, f"{path.name}: the Sources (last cell) must link its primary sources"


def test_exercises_have_placeholders_and_solutions(notebook):
    path, nb = notebook
    start = max(
        i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "# Exercises" in c.source
    )
    rest = nb.cells[start:]
    checks = [c for c in rest if c.cell_type == "code" and re.search(r"=\s*None\b", c.source)]
    solutions = [
        c for c in rest if c.cell_type == "markdown" and "<summary>Solution</summary>" in c.source
    ]
    assert checks, f"{path.name}: exercises need a cell where the learner's answer is None"
    assert len(solutions) >= len(checks), (
        f"{path.name}: every exercise needs a worked solution in <details>"
    )
    for cell in checks:
        outs = "".join(t for t in _output_texts(cell))
        assert "Not yet" in outs or "Correct!" in outs, (
            f"{path.name}: an exercise cell does not call its checker"
        )
