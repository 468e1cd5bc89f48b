"""Progress bars and live loss plots that work live, on Colab and in saved notebooks (lessons 01-08).

The bar is tqdm's plain-text bar written to standard output (not the ipywidgets
one): it shows in JupyterLab, Colab, a terminal and a notebook's saved output
alike, and needs no widget state to be read on GitHub.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm.std import tqdm


def progress_bar(
    iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", **kwargs
) -> tqdm:
    """A text progress bar (tqdm) that updates at most twice a second."""
    options: dict[str, Any] = dict(
        total=total, desc=desc, file=sys.stdout, ncols=90, mininterval=0.5, ascii=False
    )
    options.update(kwargs)
    return tqdm(**options) if iterable is None else tqdm(iterable, **options)


class LiveLossPlot:
    """A loss curve that redraws in place while a notebook trains, and stays in the output.

    Inside a Jupyter kernel it shows one matplotlib figure through an IPython
    display handle and replaces it at most every ``every_s`` seconds, so the
    saved notebook keeps exactly one picture: the final curve.  Anywhere else
    (a script, the command line, the tests) it does nothing.

    >>> plot = LiveLossPlot()
    >>> plot.add("train", step=10, value=2.5)   # any number of named series
    >>> plot.refresh()                            # redraw if enough time has passed
    >>> plot.finish()                             # final redraw
    """

    def __init__(
        self,
        title: str = "Training loss",
        xlabel: str = "training step",
        ylabel: str = "cross-entropy loss (nats per token)",
        every_s: float = 2.0,
        enabled: bool | None = None,
    ) -> None:
        self.title, self.xlabel, self.ylabel, self.every_s = title, xlabel, ylabel, every_s
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self.enabled = _in_notebook() if enabled is None else enabled
        self._handle = None
        self._last = float("-inf")

    def add(self, name: str, step: float, value: float) -> None:
        """Append the point ``(step, value)`` to the series ``name``."""
        xs, ys = self.series.setdefault(name, ([], []))
        xs.append(float(step))
        ys.append(float(value))

    def refresh(self, force: bool = False) -> None:
        """Redraw, unless the last redraw was less than ``every_s`` seconds ago."""
        import time

        if not self.enabled or (not force and time.monotonic() - self._last < self.every_s):
            return
        self._last = time.monotonic()
        fig = self.figure()
        import matplotlib.pyplot as plt
        from IPython.display import display

        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)  # else the inline backend would show it a second time

    def finish(self) -> None:
        """The final redraw: the curve that stays in the notebook."""
        self.refresh(force=True)

    def figure(self):
        """The current curves as a matplotlib figure."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        for name, (xs, ys) in self.series.items():
            many = len(xs) > 50
            ax.plot(
                xs,
                ys,
                label=name,
                lw=0.8 if many else 1.8,
                alpha=0.5 if many else 1.0,
                marker=None if many else "o",
                ms=4,
            )
        ax.set(title=self.title, xlabel=self.xlabel, ylabel=self.ylabel)
        if self.series:
            ax.legend(loc="upper right")
        fig.tight_layout()
        return fig


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Colab, nbclient), False in a script or terminal."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
