"""Student versions of the lessons and an nbgrader course that grades them (``make assignments``).

Every lesson ends with exercises in one layout (## Exercises): a numbered statement
(``**Exercise 1.**`` or ``**1. ...**``), a code cell that sets a placeholder
(``answer_1 = None``) and hands it to a checker of ``llmlab.exercises``
(``ex.check_mixing_step(answer_1)``), and the solution folded in a
``<details><summary>Solution</summary>`` block.  From that this tool writes an
nbgrader course directory (default ``build/assignments``):

- ``source/<lesson>/<lesson>.ipynb``, the instructor's version: each answer cell
  is an nbgrader *autograded answer* whose solution region holds the lesson's
  solution, and is followed by a *test* cell worth ``--points`` whose hidden test
  is the same checker (``assert ex.check_mixing_step(answer_1)``); the solution
  blocks are taken out of the text, outputs are cleared;
- ``release/<lesson>/<lesson>.ipynb``, the student's version, made from it by
  ``nbgrader generate_assignment``: solutions and hidden tests removed, the
  checker calls still in the answer cells, so a student still gets the hints;
- ``nbgrader_config.py`` and ``gradebook.db`` (nbgrader's).

The teacher collects submissions into ``submitted/<student>/<lesson>/`` and runs
``nbgrader autograde <lesson>`` in that folder (docs/teaching.md).  This tool
rewrites only ``source/``, ``release/`` and the assignments in ``gradebook.db``;
submissions, grades and feedback stay as they are.

Before it writes anything it checks every lesson, without running it: an exercise
without a checker, a checker that accepts the unanswered placeholder (it is called
with ``None`` and stand-ins for the lesson's objects; one that needs the real
objects must end in ``return run_check(answer, ...)``, which rejects ``None``), or
a solution it cannot find stops the build with one line naming the lesson and the exercise.

    python tools/build_assignments.py                               # every lesson
    python tools/build_assignments.py notebooks/02_positional_encoding.ipynb
    python tools/build_assignments.py --out /tmp/course --points 2
    python tools/build_assignments.py --check-solutions     # and grade the lessons' own solutions

``--check-solutions`` (``make assignments CHECK=1``) then grades every lesson's own
solutions with nbgrader in a scratch copy of the course and stops, naming the
exercise and what its cell printed, if one of them loses a point.  It runs each
lesson once.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import importlib
import inspect
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "assignments"
#: Where checkers live: a call to anything else is not a checker.
CHECKERS = "llmlab.exercises"
#: What a student sees where a solution was (nbgrader's ClearSolutions.code_stub).
CODE_STUB = (
    "# YOUR ANSWER HERE: replace the None above (or assign your answer here), then run the cell"
)

SECTION = re.compile(r"^##\s+Exercises\b", re.M)
NEXT_SECTION = re.compile(r"^##\s", re.M)
#: "**Exercise 2.**", "**Exercise 2. Pick the family.**", "**2.**", "**2. Cosine similarity by hand.**"
STATEMENT = re.compile(r"^\*\*(?:Exercise\s+)?(\d+)\.(.*?)\*\*", re.M)
SOLUTION = re.compile(
    r"<details>\s*<summary>\s*Solution\s*</summary>(.*?)</details>[ \t]*\n?", re.S | re.I
)
FENCED = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S)
INLINE = re.compile(r"`([^`\n]+)`")

CONFIG = '''"""nbgrader configuration of the LLM Lab course (written by `make assignments`)."""

from pathlib import Path

c = get_config()  # noqa: F821  (nbgrader provides it)
c.CourseDirectory.course_id = "llm-lab"
c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.ClearSolutions.code_stub = {{"python": {stub!r}}}
# A lesson runs top to bottom in about a minute on 2 CPU cores (docs/notebook-runs.md);
# a cell may take a few minutes on a slow machine.
c.Execute.timeout = 600
'''


class AssignmentError(Exception):
    """A lesson whose exercises cannot become an assignment; the message names the exercise."""


@dataclass
class Exercise:
    """One exercise of a lesson, as found in its notebook."""

    number: str  # "1"
    title: str  # "Cosine similarity by hand" (may be "")
    answer_cell: int  # index of the code cell with the placeholder and the checker call
    variable: str  # the name the learner assigns ("answer_1")
    check_call: str  # source of the checker call ("ex.check_mixing_step(answer_1)")
    checker: str  # "llmlab.exercises.course_map.check_mixing_step"
    solution: str  # code that sets `variable` to a right answer

    @property
    def name(self) -> str:
        return f"exercise {self.number}" + (f" ({self.title})" if self.title else "")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


# ------------------------------------------------------------------ finding the exercises


def _exercise_section(nb) -> range:
    """Indices of the cells of the ## Exercises section (empty if the lesson has none)."""
    start = next(
        (
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" and SECTION.search(c.source)
        ),
        None,
    )
    if start is None:
        return range(0)
    end = next(
        (
            i
            for i in range(start + 1, len(nb.cells))
            if nb.cells[i].cell_type == "markdown" and NEXT_SECTION.search(nb.cells[i].source)
        ),
        len(nb.cells),
    )
    return range(start, end)


def _aliases(nb) -> dict[str, str]:
    """Names the notebook binds to checker modules or functions: {"ex": "llmlab.exercises.gpt", ...}."""
    names = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_python(cell.source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith(CHECKERS)
            ):
                for a in node.names:
                    names[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith(CHECKERS + ".") and a.asname:
                        names[a.asname] = a.name
    return names


def _python(source: str) -> str:
    """A cell's source with IPython's magics and shell lines commented out, so ast can read it."""
    return "\n".join(
        "#" + line if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")
    )


def _placeholder(tree) -> ast.Assign | None:
    """The first ``name = None`` (or ``= ...``) at the top of a cell."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and node.value.value in (None, Ellipsis)
        ):
            return node
    return None


def _checker_call(tree, variable: str, aliases: dict[str, str]) -> tuple[ast.Call, str] | None:
    """The call of a checker on ``variable`` in a cell, and the checker's full name."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if not any(isinstance(a, ast.Name) and a.id == variable for a in node.args):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in aliases:
            return node, f"{aliases[f.value.id]}.{f.attr}"
        if isinstance(f, ast.Name) and f.id in aliases:
            return node, aliases[f.id]
    return None


def _assigns(code: str, variable: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == variable:
            return True
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == variable for t in targets):
                return True
    return False


def solution_code(text: str, variable: str) -> str | None:
    """The code of a ``<details>`` solution that sets ``variable``, or None.

    The fenced ``python`` blocks if there are any; else the first inline code span that
    assigns ``variable`` (``answer_1 = math.cos(0.03)``); else the first inline code span
    that is an expression (``16 * 13_015_864_320 / 1e9``), assigned to ``variable``.
    """
    blocks = FENCED.findall(text)
    if blocks:
        code = "\n".join(b.strip("\n") for b in blocks)
        return code if _assigns(code, variable) else None
    spans = INLINE.findall(text)
    for span in spans:
        if _assigns(span, variable):
            return span.strip()
    for span in spans:
        try:
            expr = ast.parse(span.strip(), mode="eval").body
        except SyntaxError:
            continue
        if not isinstance(expr, ast.Name | ast.Constant):  # a formula, not a bare name or word
            return f"{variable} = {span.strip()}"
    return None


def find_exercises(path: Path, nb) -> list[Exercise]:
    """The exercises of a lesson, in order; AssignmentError naming the first one that cannot be graded."""
    where = _rel(path)
    section = _exercise_section(nb)
    aliases = _aliases(nb)
    # Every statement in the section: (cell index, position in the cell, number, title).
    statements = [
        (i, m.start(), m.group(1), m.group(2).strip(" .*"))
        for i in section
        if nb.cells[i].cell_type == "markdown"
        for m in STATEMENT.finditer(nb.cells[i].source)
    ]
    if section and not statements:
        raise AssignmentError(
            f"{where}: its Exercises section has no numbered exercise "
            "(a line that starts with **Exercise 1.** or **1.**)"
        )
    exercises = []
    for k, (i, _, number, title) in enumerate(statements):
        end = statements[k + 1][0] if k + 1 < len(statements) else section.stop
        name = f"exercise {number}" + (f" ({title})" if title else "")
        answer = None
        for j in range(i + 1, max(end, i + 1)):
            cell = nb.cells[j]
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(_python(cell.source))
            except SyntaxError as exc:
                raise AssignmentError(
                    f"{where}, {name}: cell {j + 1} is not valid Python ({exc.msg})"
                ) from None
            placeholder = _placeholder(tree)
            if placeholder is not None:
                answer = (j, tree, placeholder)
                break
        if answer is None:
            raise AssignmentError(
                f"{where}, {name}: no answer cell (a code cell that sets a placeholder, `answer = None`, "
                "and passes it to a llmlab.exercises checker)"
            )
        j, tree, placeholder = answer
        variable = placeholder.targets[0].id
        found = _checker_call(tree, variable, aliases)
        if found is None:
            raise AssignmentError(
                f"{where}, {name}: no checker: cell {j + 1} sets {variable} but passes it to no "
                f"{CHECKERS} checker (e.g. ex.check_...({variable}))"
            )
        call, checker = found
        # The solution: the first <details> block after the answer cell, before the next statement.
        text = ""
        for m in range(j + 1, end + 1 if k + 1 < len(statements) else end):
            if nb.cells[m].cell_type == "markdown":
                source = nb.cells[m].source
                if k + 1 < len(statements) and m == statements[k + 1][0]:
                    source = source[: statements[k + 1][1]]
                found_solution = SOLUTION.search(source)
                if found_solution:
                    text = found_solution.group(1)
                    break
        solution = solution_code(text, variable) if text else None
        if solution is None:
            raise AssignmentError(
                f"{where}, {name}: no solution code that sets {variable} in a "
                "<details><summary>Solution</summary> block after its answer cell"
            )
        exercises.append(
            Exercise(
                number,
                title,
                j,
                variable,
                ast.get_source_segment(_python(nb.cells[j].source), call),
                checker,
                solution,
            )
        )
    return exercises


# ------------------------------------------------------------------ checking the checkers


class _StandIn:
    """Stands for a checker's other arguments (the lesson's objects, which only a run would have).

    It takes part in arithmetic, indexing, calls and conversions, so a checker that computes
    its expected answer from them before it looks at the answer still reaches the placeholder.
    """

    def _same(self, *args, **kwargs):
        return self

    __getattr__ = __getitem__ = __call__ = _same
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __pow__ = __rpow__ = _same
    __matmul__ = __rmatmul__ = __neg__ = __abs__ = _same

    def __float__(self):
        return 1.0

    def __int__(self):
        return 1

    __index__ = __int__

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0


def _stand_in(node: ast.expr):
    """A literal argument as itself (``"king"``, ``0.5``), anything else as a :class:`_StandIn`."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _StandIn()


def resolve(checker: str):
    """The checker function named ``llmlab.exercises.<module>.<function>``."""
    module, _, function = checker.rpartition(".")
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        raise AssignmentError(f"{checker} does not exist ({exc})") from None


def returns_run_check(fn) -> bool:
    """True if ``fn`` ends in ``return run_check(<its first parameter>, ...)``, which rejects a placeholder."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    func = tree.body[0]
    if not isinstance(func, ast.FunctionDef) or not func.args.args:
        return False
    last = func.body[-1]
    return (
        isinstance(last, ast.Return)
        and isinstance(last.value, ast.Call)
        and isinstance(last.value.func, ast.Name)
        and last.value.func.id == "run_check"
        and bool(last.value.args)
        and isinstance(last.value.args[0], ast.Name)
        and last.value.args[0].id == func.args.args[0].arg
    )


def check_placeholder_rejected(path: Path, exercise: Exercise) -> None:
    """AssignmentError unless the exercise's checker returns False for the unanswered placeholder."""
    where = f"{_rel(path)}, {exercise.name}"
    fn = resolve(exercise.checker)
    call = ast.parse(exercise.check_call, mode="eval").body
    args = [
        None if isinstance(a, ast.Name) and a.id == exercise.variable else _stand_in(a)
        for a in call.args
    ]
    kwargs = {kw.arg: _stand_in(kw.value) for kw in call.keywords if kw.arg}
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            verdict = fn(*args, **kwargs)
        except Exception as exc:
            if returns_run_check(fn):
                return  # it needs the lesson's objects first, then run_check rejects the placeholder
            raise AssignmentError(
                f"{where}: its checker {exercise.checker} fails before it looks at the answer "
                f"({type(exc).__name__}: {exc}) and does not end in `return run_check({exercise.variable}, ...)`, "
                f"so it cannot be shown to reject the placeholder: let {CHECKERS}.run_check check it"
            ) from None
    if verdict is not False:
        raise AssignmentError(
            f"{where}: its checker {exercise.checker} accepts the unanswered placeholder (None), "
            "so a blank submission would score; it must return False for None "
            f"({CHECKERS}.run_check does)"
        )


def check_lesson(path: Path, nb=None) -> list[Exercise]:
    """Every exercise of a lesson, checked; AssignmentError names the first problem."""
    nb = nb if nb is not None else nbformat.read(path, as_version=4)
    exercises = find_exercises(path, nb)
    for exercise in exercises:
        check_placeholder_rejected(path, exercise)
    return exercises


# ------------------------------------------------------------------ the instructor's notebook


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, points: float = 0) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def answer_source(source: str, exercise: Exercise) -> str:
    """The answer cell with the solution region right after its placeholder line."""
    tree = ast.parse(_python(source))
    placeholder = _placeholder(tree)
    lines = source.split("\n")
    cut = placeholder.end_lineno  # 1-based: the placeholder's last line
    region = ["### BEGIN SOLUTION", exercise.solution, "### END SOLUTION"]
    return "\n".join(lines[:cut] + region + lines[cut:])


def test_source(exercise: Exercise, points: float) -> str:
    call = exercise.check_call
    return (
        f"# Graded: {exercise.name}, {points:g} point{'s' if points != 1 else ''}, by the checker above.\n"
        "### BEGIN HIDDEN TESTS\n"
        f"assert {call}, {exercise.name + ' is not right yet: see the hint the checker printed'!r}\n"
        "### END HIDDEN TESTS"
    )


def source_notebook(nb, exercises: list[Exercise], points: float):
    """The nbgrader source version of a lesson (a new notebook; ``nb`` is not changed)."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    by_cell = {e.answer_cell: e for e in exercises}
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":
            cell.source = SOLUTION.sub("", cell.source).strip("\n")
            if not cell.source.strip():
                continue  # a cell that held only a solution
        cell.metadata.pop("slideshow", None)
        cells.append(cell)
        if i in by_cell:
            e = by_cell[i]
            cell.source = answer_source(cell.source, e)
            cell.metadata["nbgrader"] = _nbgrader(
                f"ex{e.number}-answer", solution=True, grade=False
            )
            test = nbformat.v4.new_code_cell(test_source(e, points))
            test.id = f"llmlab-ex{e.number}-test"
            test.metadata["nbgrader"] = _nbgrader(
                f"ex{e.number}-test", solution=False, grade=True, points=points
            )
            cells.append(test)
    nb.cells = cells
    return nb


# ------------------------------------------------------------------ the course directory


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def nbgrader(course: Path, *args: str, quiet: bool = True) -> subprocess.CompletedProcess:
    """Run an nbgrader command in the course directory (its nbgrader_config.py applies)."""
    bin_dir = Path(
        sys.executable
    ).parent  # nbgrader runs `alembic` from PATH to set up its database
    command = [str(bin_dir / "nbgrader"), *args]
    if quiet:
        command.append("--log-level=WARN")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(command, cwd=course, capture_output=True, text=True, env=env)


def build(
    out: Path = DEFAULT_OUT,
    paths: list[Path] | None = None,
    points: float = 1.0,
    solutions: bool = False,
) -> dict[str, list[Exercise]]:
    """Write the course into ``out`` for ``paths`` (default: every lesson); {lesson: exercises}.

    ``solutions``: then grade the lessons' own solutions (:func:`check_solutions`).
    """
    out = out.resolve()
    paths = paths or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if out.exists() and any(out.iterdir()) and not (out / "nbgrader_config.py").exists():
        raise AssignmentError(
            f"{out} exists and is not an nbgrader course this tool wrote: choose another --out or remove it"
        )
    # Check every lesson before writing anything.
    notebooks = {p: nbformat.read(p, as_version=4) for p in paths}
    lessons = {p: check_lesson(p, nb) for p, nb in notebooks.items()}

    config = out / "nbgrader_config.py"
    if not config.exists():
        _write(config, CONFIG.format(stub=CODE_STUB))
    built = {}
    for path, exercises in lessons.items():
        if not exercises:
            print(f"{path.stem}: no exercises, no assignment", file=sys.stderr)
            continue
        stem = path.stem
        source = source_notebook(notebooks[path], exercises, points)
        shutil.rmtree(out / "source" / stem, ignore_errors=True)
        _write(out / "source" / stem / f"{stem}.ipynb", nbformat.writes(source))
        built[stem] = exercises
    if built:  # one nbgrader run for all (it takes seconds to start): every source/ -> release/
        done = nbgrader(out, "generate_assignment", "*", "--force")
        if done.returncode != 0:
            raise AssignmentError(
                f"nbgrader generate_assignment failed:\n{(done.stdout + done.stderr).strip()[-2000:]}"
            )
    if built and solutions:
        check_solutions(out, {p: e for p, e in lessons.items() if p.stem in built})
    return built


def fill_answers(nb, answers: dict[str, str]) -> None:
    """Put ``answers`` ({exercise number: code}) where the student version says YOUR ANSWER HERE."""
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        number = grade_id.removeprefix("ex").removesuffix("-answer")
        if grade_id.endswith("-answer") and number in answers:
            cell.source = cell.source.replace(CODE_STUB, answers[number])


def _what_went_wrong(cell) -> str:
    """The first error or checker hint an answer cell printed, on one line."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out['ename']}: {out['evalue']}"
        for line in out.get("text", "").splitlines():
            if line.startswith("Not yet:"):
                return line
    return "no hint printed"


def check_solutions(out: Path, lessons: dict[Path, list[Exercise]]) -> None:
    """Grade each lesson's own solutions with nbgrader; AssignmentError names an exercise they fail.

    Runs in a scratch copy of the course (the gradebook in ``out`` is not touched) and
    executes each lesson once, so it takes about the lessons' run times together.
    """
    from nbgrader.api import Gradebook

    with tempfile.TemporaryDirectory(prefix="llmlab-solutions-") as tmp:
        scratch = Path(tmp)
        shutil.copy2(out / "nbgrader_config.py", scratch / "nbgrader_config.py")
        for path in lessons:
            shutil.copytree(out / "source" / path.stem, scratch / "source" / path.stem)
        done = nbgrader(scratch, "generate_assignment", "*", "--force")
        for path, exercises in lessons.items() if done.returncode == 0 else ():
            stem = path.stem
            nb = nbformat.read(scratch / "release" / stem / f"{stem}.ipynb", as_version=4)
            fill_answers(nb, {e.number: e.solution for e in exercises})
            _write(
                scratch / "submitted" / "solutions" / stem / f"{stem}.ipynb", nbformat.writes(nb)
            )
            done = nbgrader(scratch, "autograde", stem)
            if done.returncode != 0:
                break
            graded = nbformat.read(
                scratch / "autograded" / "solutions" / stem / f"{stem}.ipynb", as_version=4
            )
            cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in graded.cells}
            with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gradebook:
                submission = gradebook.find_submission_notebook(stem, stem, "solutions")
                lost = {g.name for g in submission.grades if g.score < g.max_score}
            for e in exercises:
                if f"ex{e.number}-test" in lost:
                    raise AssignmentError(
                        f"{_rel(path)}, {e.name}: the lesson's own solution does not pass its checker "
                        f"({_what_went_wrong(cells[f'ex{e.number}-answer'])}); fix the solution in the lesson"
                    )
        if done.returncode != 0:
            raise AssignmentError(
                f"nbgrader failed while grading the solutions:\n{(done.stdout + done.stderr).strip()[-2000:]}"
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="lessons (default: every lesson)")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="nbgrader course folder (default: build/assignments)",
    )
    parser.add_argument(
        "--points", type=float, default=1.0, help="points per exercise (default: 1)"
    )
    parser.add_argument(
        "--check-solutions",
        action="store_true",
        help="then grade each lesson's own solutions with nbgrader (runs every lesson once)",
    )
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if not path.is_file():
            print(f"make assignments: {path} is not a notebook file", file=sys.stderr)
            return 1
    if args.points <= 0:
        print("make assignments: --points must be positive", file=sys.stderr)
        return 1
    start = time.perf_counter()
    try:
        built = build(args.out, args.notebooks or None, args.points, args.check_solutions)
    except AssignmentError as exc:
        print(f"make assignments: {exc}", file=sys.stderr)
        return 1
    for stem, exercises in built.items():
        print(f"{stem}: {len(exercises)} exercises, {len(exercises) * args.points:g} points")
    out = args.out.resolve()
    print(
        f"{len(built)} assignments in {time.perf_counter() - start:.1f} s: student versions in "
        f"{out / 'release'}, the instructor's in {out / 'source'}; grade with `nbgrader autograde <lesson>` in {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
