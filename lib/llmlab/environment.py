"""What the course runs on: the environment check and the lesson run times of lesson 00.

Nothing here touches the network unless asked to (``check_internet``): the
report says whether the optional downloads are already in the cache, not
whether they could be fetched.

>>> from llmlab import environment
>>> for name, value in environment.report(): print(f"{name:<28} {value}")
>>> environment.lesson_runs()        # rows: lesson, title, step, run time, peak memory
"""

from __future__ import annotations

import json
import os
import platform
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

from llmlab import course, data, paths

#: Packages whose versions the report lists (PyPI names).
PACKAGES = ("torch", "gensim", "numpy", "matplotlib", "plotly", "ipywidgets", "tqdm", "safetensors")

#: Where ``make notebooks`` records each notebook's wall time and peak memory (in a checkout).
RUN_RECORDS = paths.PACKAGE_DIR.parents[1] / "docs" / "notebook-runs.json"

NOT_MEASURED = "not yet measured"


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), for run records and model cards."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    """The installed version of a package, or "missing"."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def available_memory_gb() -> float | None:
    """Memory available to new processes, in GB (None when it cannot be told)."""
    try:
        import psutil

        return psutil.virtual_memory().available / 1e9
    except ImportError:
        pass
    try:  # Linux without psutil
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return None


def _embedded_data_status() -> str:
    from gensim.test.utils import datapath

    from llmlab import corpus

    files = [corpus.WIKI_FILE, *corpus.NEWS_FILES]
    files += [d.gensim_file for d in data.REGISTRY.values() if d.gensim_file]
    missing = [f for f in files if not Path(datapath(f)).is_file()]
    if missing:
        return f"MISSING gensim test files: {', '.join(missing)} (reinstall gensim>=4.4)"
    built = (paths.cache_dir() / f"{data.DEFAULT_TEXT}.txt").is_file()
    state = "built and cached" if built else "built on first use (about 10-20 s)"
    return f"present ({len(files)} files from gensim); corpus {data.DEFAULT_TEXT!r} {state}"


def _shipped_data_status() -> str:
    try:
        folder = paths.data_dir()
    except FileNotFoundError as exc:
        return f"MISSING ({exc})"
    entries = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    return f"present: {', '.join(entries)}" if entries else "present (empty)"


def report(device=None) -> list[tuple[str, str]]:
    """The environment check as (what, value) rows; reads no network.

    ``device`` is the device ``llmlab.setup_notebook()`` returned (picked again when None).
    """
    import torch

    from llmlab import __version__
    from llmlab.runtime import pick_device

    device = device if device is not None else pick_device()
    rows = [
        ("llmlab", __version__),
        ("Python", platform.python_version()),
    ]
    rows += [(name, package_version(name)) for name in PACKAGES]
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "none in use"
    memory = available_memory_gb()
    rows += [
        ("device", f"{device} (GPU: {gpu})"),
        ("torch threads", str(torch.get_num_threads())),
        ("CPU cores", str(os.cpu_count())),
        ("memory available", f"{memory:.1f} GB" if memory is not None else "unknown"),
        ("embedded data (gensim)", _embedded_data_status()),
        ("shipped course data", _shipped_data_status()),
    ]
    for entry in data.REGISTRY.values():
        if not entry.embedded:
            state = (
                "in the cache"
                if data.is_downloaded(entry.name)
                else "not downloaded (optional; needs internet)"
            )
            rows.append((f"optional: {entry.name}", state))
    return rows


def print_report(device=None) -> None:
    """Print ``report()`` as a two-column table."""
    for name, value in report(device):
        print(f"{name:<32} {value}")


def check_internet(url: str = "https://github.com", timeout: float = 5.0) -> str:
    """Try one HTTPS request (only when the learner asks); returns what happened, in words."""
    try:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "llmlab"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return f"online: {url} answered HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"online: {url} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"offline or blocked ({reason}); the course works offline with its embedded data"


def load_run_records(file: str | Path | None = None) -> dict[str, dict]:
    """The notebook runs recorded by ``make notebooks`` ({} when there are none, e.g. on Colab)."""
    file = Path(file) if file is not None else RUN_RECORDS
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError):
        return {}


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def lesson_runs(records: dict[str, dict] | None = None) -> list[dict[str, str]]:
    """One row per lesson: its notebook, title, pipeline step, measured run time and peak memory."""
    records = load_run_records() if records is None else records
    rows = []
    for item in course.LESSONS:
        record = records.get(f"{item.stem}.ipynb")
        rows.append(
            {
                "lesson": item.stem,
                "title": item.title,
                "step": item.step,
                "run time": _minutes(record["wall_s"]) if record else NOT_MEASURED,
                "peak memory": f"{record['peak_mb']} MB" if record else NOT_MEASURED,
            }
        )
    return rows
