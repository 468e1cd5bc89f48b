"""Where the course's files live, in a checkout and in an installed wheel (every lesson, via data).

In a checkout (and an editable install) the shipped data sits in the
repository's ``data/`` folder.  The wheel carries the same folder inside the
package as ``llmlab/_data`` (see ``pyproject.toml``), so a notebook on Colab
finds it without the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    """The folder holding the data shipped with the course (checkpoints, tables)."""
    inside_wheel = PACKAGE_DIR / "_data"
    if inside_wheel.is_dir():
        return inside_wheel
    in_checkout = PACKAGE_DIR.parents[1] / "data"
    if in_checkout.is_dir():
        return in_checkout
    raise FileNotFoundError(
        "The course data folder was not found: neither llmlab/_data (installed wheel) nor "
        "data/ (repository checkout). Reinstall with `pip install .` from the repository."
    )


def cache_dir() -> Path:
    """The folder for downloads and derived files (created if missing).

    ``$LLMLAB_CACHE`` wins; else ``$XDG_CACHE_HOME/llmlab``; else ``~/.cache/llmlab``.
    """
    if os.environ.get("LLMLAB_CACHE"):
        path = Path(os.environ["LLMLAB_CACHE"])
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "llmlab"
    path.mkdir(parents=True, exist_ok=True)
    return path
