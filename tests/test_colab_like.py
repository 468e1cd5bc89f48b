"""A "Colab-like" run: the wheel alone, in a clean virtual environment, runs lesson 00 in an empty folder.

This is how Colab uses the course: `pip install` of the repository (so only
what the wheel carries is there: no data/, no docs/, no tests/), then a
notebook opened on its own.  The test

1. builds the wheel and checks that it carries the course data (llmlab/_data/) and no tests;
2. creates a clean virtual environment (no packages of this one), installs
   PyTorch first (``$LLMLAB_TEST_TORCH``, default ``torch==2.13.0``: the CPU
   wheel on this machine's disk; on Linux the plain PyPI torch is a multi-GB
   CUDA build), then the wheel with its dependencies, then ipykernel + nbclient;
3. copies 00_start_here.ipynb to an empty folder and executes it there with
   that environment's kernel.

It needs a package index (PyPI or a local mirror) and nothing else: the
notebook itself makes no network request.  pip's cache is used, so reruns are
faster.  It takes a few minutes; the time of each step is printed (pytest -s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"
TORCH = os.environ.get("LLMLAB_TEST_TORCH", "torch==2.13.0")
KERNEL = "llmlab-colab-like"

pytestmark = pytest.mark.slow

RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=600, kernel_name=sys.argv[2], resources={"metadata": {"path": "."}}).execute()
nbformat.write(nb, path)
"""


def _run(args, timings, label, **kwargs):
    start = time.perf_counter()
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    timings[label] = time.perf_counter() - start
    assert result.returncode == 0, (
        f"{label} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def _build_wheel(out: Path, timings) -> Path:
    """The wheel of this checkout (hatchling from this environment when it has it, else pip's isolated build)."""
    try:
        import hatchling  # noqa: F401

        isolation = ["--no-build-isolation"]
    except ImportError:
        isolation = []
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", out, ROOT],
        timings,
        "build wheel",
    )
    wheels = list(out.glob("llmlab-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture
def workdir(tmp_path):
    """A temporary folder, deleted afterwards: the environment holds about 1.5 GB (PyTorch)."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_wheel_in_a_clean_venv_runs_lesson_00(workdir):
    tmp_path = workdir
    timings: dict[str, float] = {}
    total = time.perf_counter()

    wheel = _build_wheel(tmp_path / "dist", timings)
    names = zipfile.ZipFile(wheel).namelist()
    assert "llmlab/__init__.py" in names and "llmlab/data.py" in names
    data_files = [n for n in names if n.startswith("llmlab/_data/")]
    shipped = sorted(
        p.relative_to(ROOT / "data").as_posix() for p in (ROOT / "data").rglob("*") if p.is_file()
    )
    assert sorted(n.removeprefix("llmlab/_data/") for n in data_files) == shipped, (
        "the wheel must carry data/"
    )
    assert not [
        n for n in names if n.startswith(("tests/", "llmlab/tests/", "notebooks/")) or "/test_" in n
    ]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]

    venv = tmp_path / "venv"
    # No pip inside the new environment (ensurepip takes a while): this environment's pip installs into it.
    _run([sys.executable, "-m", "venv", "--without-pip", venv], timings, "create venv")
    python = venv / "bin" / "python"
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet"]
    _run([*pip, *TORCH.split()], timings, f"pip install {TORCH}", env=env)
    _run(
        [*pip, wheel, "ipykernel", "nbclient"],
        timings,
        "pip install the wheel (+ deps), ipykernel, nbclient",
        env=env,
    )
    listed = _run([*pip[:-2], "list", "--format=freeze"], timings, "pip list", env=env).stdout
    assert "llmlab==0.1.0" in listed and "pytest" not in listed  # a clean environment, not this one
    _run(
        [python, "-m", "ipykernel", "install", "--prefix", venv, "--name", KERNEL],
        timings,
        "kernelspec",
        env=env,
    )

    # The installed course finds its data inside the wheel, not in this checkout.
    where = _run(
        [python, "-c", "import llmlab.paths as p; print(p.data_dir())"],
        timings,
        "data_dir",
        env=env,
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv) and where.endswith("_data"), where

    folder = tmp_path / "colab"
    folder.mkdir()
    copy = folder / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    kernel_env = {
        **env,
        "LLMLAB_CACHE": str(tmp_path / "cache"),
        "JUPYTER_PATH": str(venv / "share" / "jupyter"),
        "PYTHONHASHSEED": "0",
    }
    _run(
        [python, "-c", RUNNER, copy.name, KERNEL],
        timings,
        "execute 00_start_here.ipynb",
        env=kernel_env,
        cwd=folder,
    )

    import nbformat

    nb = nbformat.read(copy, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "llmlab 0.1.0 | Python" in text  # setup_notebook ran from the installed wheel
    assert "not yet measured" in text  # no docs/ next to an installed wheel
    assert "present" in text and "not downloaded" in text  # the environment check, offline
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)
    assert sorted(p.name for p in folder.iterdir()) == [NOTEBOOK.name], (
        "the notebook wrote files next to itself"
    )

    timings["total"] = time.perf_counter() - total
    print("\nColab-like run, seconds per step:")
    for label, seconds in timings.items():
        print(f"  {label:<45} {seconds:6.1f}")
