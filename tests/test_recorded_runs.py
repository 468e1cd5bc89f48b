"""README's run table and the instructor guide quote the recorded notebook runs exactly.

``make notebooks`` rewrites ``docs/notebook-runs.json`` on every run; README and ``docs/teaching.md``
copy its numbers by hand, so these tests fail when a re-run leaves them behind.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNS: dict[str, dict] = json.loads((ROOT / "docs" / "notebook-runs.json").read_text())
GUIDE = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")


def seconds(run: dict) -> str:
    return f"{run['wall_s']:.0f}"  # as docs/notebook-runs.md writes it


def test_readme_table_is_the_recorded_run():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, run in RUNS.items():
        assert f"| `{name}` | {seconds(run)} s | {run['peak_mb']} MB |" in readme, name
    first = sum(r["wall_s"] for n, r in RUNS.items() if n[:2] <= "06")
    assert f"| lessons 00-06 | {first / 60:.1f} min | |" in readme
    every = re.search(r"^\| all \w+ \| ([\d.]+) min \| \|$", readme, re.M)
    assert every and every[1] == f"{sum(r['wall_s'] for r in RUNS.values()) / 60:.1f}"


@pytest.mark.parametrize("name", sorted(RUNS))
def test_teaching_guide_quotes_the_recorded_run(name):
    run, number = RUNS[name], name[:2]
    row = re.search(rf"^\| {number} [^|]+\| (\d+) s \| (\d+) MB \|", GUIDE, re.M)
    assert row, f"no row for lesson {number} in the guide's table"
    assert (row[1], int(row[2])) == (seconds(run), run["peak_mb"]), name
    heading = re.search(rf"^### {number} .*\((\d+) s, (\d+) MB\)$", GUIDE, re.M)
    if heading:
        assert (heading[1], int(heading[2])) == (seconds(run), run["peak_mb"]), name
    else:  # the lesson the guide covers in full says it in a sentence
        assert f"Run time {seconds(run)} s, peak {run['peak_mb']:,} MB" in GUIDE, name


def test_the_guides_memory_range_is_the_recorded_one():
    low = min(RUNS.values(), key=lambda r: r["peak_mb"])
    high = max(RUNS.values(), key=lambda r: r["peak_mb"])
    text = " ".join(GUIDE.split())  # line breaks as spaces
    assert (
        f"is {low['peak_mb']:,} MB (lesson {low['notebook'][:2]}) to {high['peak_mb']:,} MB "
        f"(lesson {high['notebook'][:2]})" in text
    )
