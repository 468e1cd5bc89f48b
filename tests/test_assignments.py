"""Assignments (`make assignments`): every lesson's exercises can be graded, and nbgrader grades them.

The round trip is nbgrader's own: ``generate_assignment`` makes the student version
of lesson 02 (4 exercises, about 10 s to run), two students submit it (one with the
lesson's solutions, one with a wrong answer and a blank), ``nbgrader autograde``
executes both submissions and the gradebook must hold 4 of 4 and 2 of 4 points.
Bad input (an exercise without a checker, a checker that accepts the unanswered
placeholder, no solution) stops the build with one line naming the exercise.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_assignments  # noqa: E402  (tools/build_assignments.py)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: The lesson graded for real: four exercises (numbers and functions), about 10 s to run.
LESSON = ROOT / "notebooks" / "02_positional_encoding.ipynb"


# ------------------------------------------------------------------ every lesson


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_exercise_has_a_checker_that_rejects_the_placeholder(path):
    """The guard of `make assignments`: a checker per exercise, None rejected, a solution found."""
    exercises = build_assignments.check_lesson(path)
    numbers = [e.number for e in exercises]
    assert numbers == [str(k) for k in range(1, len(numbers) + 1)], (
        f"{path.name}: exercises numbered {numbers}"
    )
    for e in exercises:
        assert e.checker.startswith("llmlab.exercises.") and e.variable in e.solution


# ------------------------------------------------------------------ bad input, on a synthetic lesson


def _lesson(
    tmp_path: Path, answer_cell: str, solution: str = "```python\nanswer_1 = 3\n```"
) -> Path:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        md("# Lesson 99: test"),
        code("from llmlab.exercises import course_map as ex"),
        md("## Exercises\n\n**Exercise 1. Count.** How many?"),
        code(answer_cell),
        md(f"<details><summary>Solution</summary>\n\n{solution}\n</details>"),
        md("## Sources"),
    ]
    path = tmp_path / "99_bad.ipynb"
    nbformat.write(nb, path)
    return path


def test_an_exercise_without_a_checker_stops_the_build(tmp_path, capsys):
    path = _lesson(tmp_path, "answer_1 = None  # a number\nprint(answer_1)")
    out = tmp_path / "course"
    assert build_assignments.main([str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "99_bad.ipynb, exercise 1 (Count): no checker" in err
    assert not out.exists(), "nothing is written when a lesson is bad"


def test_a_checker_that_accepts_the_placeholder_stops_the_build(tmp_path, monkeypatch):
    lenient = types.ModuleType("llmlab.exercises.lenient")
    lenient.check_anything = lambda answer, *args: True  # gives the point for no answer
    monkeypatch.setitem(sys.modules, "llmlab.exercises.lenient", lenient)
    path = _lesson(
        tmp_path,
        "from llmlab.exercises import lenient\n\nanswer_1 = None\nlenient.check_anything(answer_1, LOGITS)",
    )
    with pytest.raises(
        build_assignments.AssignmentError,
        match=r"exercise 1 \(Count\): its checker llmlab\.exercises\.lenient\.check_anything accepts the unanswered placeholder",
    ):
        build_assignments.check_lesson(path)


CHECKERS = """
import torch
from llmlab.exercises import run_check


def check_after_setup(answer, logits):
    want = float(torch.tensor(logits).sum())  # needs the lesson's object before the answer

    def check(a):
        return float(a) == want, "right", "sum the logits"

    return run_check(answer, check)


def check_crashes(answer, logits):
    want = float(torch.tensor(logits).sum())
    return answer is not None and float(answer) == want
"""


@pytest.mark.parametrize("name", ["check_after_setup", "check_crashes"])
def test_a_checker_that_needs_the_lessons_objects_must_end_in_run_check(
    tmp_path, monkeypatch, name
):
    """Without running the lesson its objects are stand-ins; run_check then vouches for the placeholder."""
    source = tmp_path / "strict.py"
    source.write_text(CHECKERS)
    spec = importlib.util.spec_from_file_location("llmlab.exercises.strict", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "llmlab.exercises.strict", module)
    path = _lesson(
        tmp_path,
        f"from llmlab.exercises import strict\n\nanswer_1 = None\nstrict.{name}(answer_1, LOGITS)",
    )
    if name == "check_after_setup":
        assert len(build_assignments.check_lesson(path)) == 1
    else:
        with pytest.raises(
            build_assignments.AssignmentError, match="fails before it looks at the answer"
        ):
            build_assignments.check_lesson(path)


def test_an_exercises_section_without_numbered_exercises_stops_the_build(tmp_path):
    path = _lesson(tmp_path, "answer_1 = None\nex.check_mixing_step(answer_1)")
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = "## Exercises\n\n### Exercise one\n\nHow many?"  # not the course's layout
    nbformat.write(nb, path)
    with pytest.raises(build_assignments.AssignmentError, match="has no numbered exercise"):
        build_assignments.check_lesson(path)


def test_an_exercise_without_a_solution_stops_the_build(tmp_path):
    path = _lesson(tmp_path, "answer_1 = None\nex.check_mixing_step(answer_1)", solution="Step 3.")
    with pytest.raises(build_assignments.AssignmentError, match="exercise 1 .*no solution code"):
        build_assignments.check_lesson(path)


@pytest.mark.slow
def test_check_solutions_names_an_exercise_whose_own_solution_fails(tmp_path):
    """--check-solutions grades the lesson's solutions with nbgrader: a solution that cannot run is caught."""
    path = _lesson(
        tmp_path,
        "answer_1 = None  # a step number\nex.check_mixing_step(answer_1)",
        solution="```python\nanswer_1 = STEP  # a name the lesson never defines\n```",
    )
    with pytest.raises(
        build_assignments.AssignmentError,
        match=r"99_bad\.ipynb, exercise 1 \(Count\): the lesson's own solution does not pass its checker "
        r"\(NameError: name 'STEP' is not defined\)",
    ):
        build_assignments.build(tmp_path / "course", [path], solutions=True)


def test_solution_code_from_fenced_blocks_and_inline_spans():
    code = build_assignments.solution_code
    assert code("x\n```python\nimport math\nanswer = math.pi\n```\n", "answer") == (
        "import math\nanswer = math.pi"
    )
    assert (
        code("so `answer_1 = math.cos(0.03)` and `cos`", "answer_1") == "answer_1 = math.cos(0.03)"
    )
    assert code("`n_layer` blocks: `16 * 13e9 / 1e9` GB", "answer") == "answer = 16 * 13e9 / 1e9"
    assert code("```python\nother = 1\n```", "answer") is None


def test_a_folder_that_is_not_a_course_is_never_written(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(build_assignments.AssignmentError, match="not an nbgrader course"):
        build_assignments.build(mine, [LESSON])
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


# ------------------------------------------------------------------ the nbgrader round trip


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    built = build_assignments.build(out, [LESSON])
    return out, built[LESSON.stem]


def test_student_version_has_no_solutions_and_keeps_the_checkers(course):
    out, exercises = course
    release = nbformat.read(out / "release" / LESSON.stem / f"{LESSON.stem}.ipynb", as_version=4)
    text = "\n".join(c.source for c in release.cells)
    assert "<summary>Solution" not in text and "BEGIN SOLUTION" not in text
    assert "HIDDEN TESTS" not in text
    for e in exercises:
        assert e.solution not in text, f"{e.name}: its solution is in the student version"
        assert e.check_call in text, f"{e.name}: its checker is not in the student version"
    assert text.count(build_assignments.CODE_STUB) == len(exercises)
    assert not any(c.get("outputs") for c in release.cells if c.cell_type == "code")


def _submit(out: Path, student: str, answers: dict[str, str]) -> None:
    """Copy the student version into submitted/<student>/ with ``answers`` in place of the stubs."""
    nb = nbformat.read(out / "release" / LESSON.stem / f"{LESSON.stem}.ipynb", as_version=4)
    build_assignments.fill_answers(nb, answers)
    folder = out / "submitted" / student / LESSON.stem
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{LESSON.stem}.ipynb")


@pytest.mark.slow
def test_nbgrader_grades_a_right_and_a_wrong_submission(course):
    from nbgrader.api import Gradebook

    out, exercises = course
    right = {e.number: e.solution for e in exercises}
    wrong = {
        **right,
        "1": "answer_1 = math.sin(3 / 10000 ** (4 / 8))",
    }  # the sine: a hint, no point
    del wrong["2"]  # exercise 2 left as the placeholder
    _submit(out, "ada", right)
    _submit(out, "bob", wrong)
    done = build_assignments.nbgrader(out, "autograde", LESSON.stem)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gradebook:
        assignment = gradebook.find_assignment(LESSON.stem)
        assert assignment.max_score == len(exercises) == 4
        ada = gradebook.find_submission(LESSON.stem, "ada")
        bob = gradebook.find_submission(LESSON.stem, "bob")
        assert ada.score == 4
        assert bob.score == 2
        lost = sorted(
            g.name
            for g in gradebook.find_submission_notebook(LESSON.stem, LESSON.stem, "bob").grades
            if g.score == 0
        )
        assert lost == ["ex1-test", "ex2-test"]

    # The graded notebook shows bob the checker's hint for his wrong answer.
    graded = nbformat.read(out / "autograded" / "bob" / LESSON.stem / f"{LESSON.stem}.ipynb", 4)
    outputs = "".join(
        o.get("text", "") for c in graded.cells if c.cell_type == "code" for o in c.outputs
    )
    assert (
        "Not yet: the right angle (0.03), but odd dimensions (2i + 1) hold the cosine." in outputs
    )
