"""Progress bars and live loss plots that work live, on Colab and in saved notebooks.

The bar is tqdm's plain-text bar written to standard output (not the ipywidgets
one): it shows in JupyterLab, Colab, a terminal and a notebook's saved output
alike, and needs no widget state to be read on GitHub.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm.std import tqdm


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", **kwargs) -> tqdm:
    """A text progress bar (tqdm) that updates at most twice a second."""
    options = dict(total=total, desc=desc, file=sys.stdout, ncols=90, mininterval=0.5, ascii=False)
    options.update(kwargs)
    return tqdm(iterable, **options)
