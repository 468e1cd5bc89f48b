"""Execute lesson notebooks in place, top to bottom, and record what each run cost.

This is the only way committed notebook outputs are made (``make notebooks``).
Every run is deterministic: fixed seeds inside the notebooks, PYTHONHASHSEED=0,
a fixed thread count and the CPU as device.  After each run the wall time and
the kernel's peak memory (resident set size, sampled every 0.1 s) are written
to ``docs/notebook-runs.md`` (linked from README) and ``docs/notebook-runs.json``.
Each plotly figure then gets a static PNG beside its JSON (tools/figure_images.py,
drawn in headless Chromium), so GitHub and other viewers without JavaScript show it.

    python tools/execute_notebooks.py                      # every lesson
    python tools/execute_notebooks.py notebooks/04_mini_gpt.ipynb
"""

from __future__ import annotations

import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser  # noqa: E402  (tools/browser.py)
import figure_images  # noqa: E402  (tools/figure_images.py)

ROOT = Path(__file__).resolve().parents[1]
RECORD_JSON = ROOT / "docs" / "notebook-runs.json"
RECORD_MD = ROOT / "docs" / "notebook-runs.md"

#: The environment every kernel runs in.
KERNEL_ENV = {
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "2",
    "MKL_NUM_THREADS": "2",
    "LLMLAB_DEVICE": "cpu",
    "TQDM_MININTERVAL": "1",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


class PeakMemory:
    """Samples the resident memory of a process and its children until stopped."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs)
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def execute(path: Path, renderer: figure_images.Renderer, timeout: int = 1200) -> dict:
    """Run one notebook in place, figures drawn to PNG by ``renderer``; returns its record (wall seconds, peak MB)."""
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, **KERNEL_ENV}
    # OpenMP's default waiting, as in a learner's kernel: the Makefile's OMP_WAIT_POLICY=PASSIVE is for
    # the test run, whose two workers share two cores; one kernel alone trains ~1.5x faster without it.
    env.pop("OMP_WAIT_POLICY", None)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
    )
    start = time.perf_counter()
    with client.setup_kernel(env=env, cwd=str(path.parent)):
        pid = client.km.provisioner.process.pid
        with PeakMemory(pid) as memory:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        # NotebookClient.execute() would do this; executing cell by cell, we must:
        # without it the saved widget views point at models that were never stored.
        client.set_widgets_metadata()
    wall = time.perf_counter() - start
    coalesce = CoalesceStreamsPreprocessor()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            # One stream output per cell, with progress bars' carriage returns resolved.
            coalesce.preprocess_cell(cell, {}, index)
            cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None) if not _has_widgets(nb) else None
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    figure_images.add_images(nb, renderer)
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(path)  # atomic: an interrupted write never leaves half a notebook
    return {"notebook": path.name, "wall_s": round(wall, 1), "peak_mb": round(memory.peak / 2**20)}


def _has_widgets(nb) -> bool:
    return any(
        "application/vnd.jupyter.widget-view+json" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def write_record(records: dict[str, dict]) -> None:
    """Write the table of runs (JSON and markdown)."""
    RECORD_JSON.parent.mkdir(exist_ok=True)
    RECORD_JSON.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
    machine = (
        f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}"
    )
    lines = [
        "# Notebook runs",
        "",
        "Written by `make notebooks` (tools/execute_notebooks.py) each time it executes a notebook:",
        "wall time of the whole notebook and peak resident memory of its kernel, on the machine that ran it",
        f"({machine}; torch limited to 2 threads).",
        "",
        "| notebook | wall time | peak memory |",
        "|---|---:|---:|",
    ]
    for name in sorted(records):
        r = records[name]
        lines.append(f"| `{name}` | {r['wall_s']:.0f} s | {r['peak_mb']} MB |")
    RECORD_MD.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    paths = [Path(p).resolve() for p in argv] or sorted(
        (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    # Lesson 00 prints every lesson's recorded run time, so it runs after the others.
    paths.sort(key=lambda p: p.stem == "00_start_here")
    try:
        # One headless Chromium draws every figure's PNG; checked before any notebook runs.
        with browser.chromium() as chrome:
            context, _ = browser.open_context(chrome)
            return run_all(paths, figure_images.Renderer(context.new_page()))
    except browser.BrowserMissing as exc:
        print(f"cannot draw the figures' static images: {exc}", file=sys.stderr)
        return 1


def run_all(paths: list[Path], renderer: figure_images.Renderer) -> int:
    """Execute each notebook, record its run; a failed one is left unchanged and the others still run."""
    failed = []
    for path in paths:
        print(f"executing {path.relative_to(ROOT)} ...", flush=True)
        try:
            record = execute(path, renderer)
        except CellExecutionError as exc:
            # The notebook is left as it was (no error output is ever saved); go on with the others.
            failed.append(path.name)
            print(f"  FAILED, notebook not changed:\n{exc}", flush=True)
            continue
        # Re-read just before writing: another run may have recorded its notebook meanwhile.
        records = json.loads(RECORD_JSON.read_text()) if RECORD_JSON.exists() else {}
        records[record["notebook"]] = record
        write_record(records)
        print(f"  {record['wall_s']:.0f} s, peak {record['peak_mb']} MB", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
