"""The one call at the top of every lesson: ``setup_notebook()``.

It makes a notebook run the same way everywhere (JupyterLab, Colab, Binder,
``make notebooks``): the same random numbers, the same thread count, figures
that show up live and (with the image ``make notebooks`` adds) in static
viewers, and the best device available.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import warnings

import numpy as np
import torch

#: The torch thread count every lesson uses.  Fixed, so that results (which can
#: depend on how a reduction is split across threads) are the same on every run.
DEFAULT_THREADS = 2

#: Figure size of matplotlib figures, in inches.
FIGSIZE = (7.0, 4.0)


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and torch's random number generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(prefer: str | None = None) -> torch.device:
    """The device to compute on: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` ("cpu", "cuda", "mps") overrides the choice; so does the
    environment variable ``LLMLAB_DEVICE``.
    """
    prefer = prefer or os.environ.get("LLMLAB_DEVICE")
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _short_warning(message, category, filename, lineno, line=None):
    # The default format starts with the full path of the file that warned,
    # which would put this machine's folders into committed notebook outputs.
    return f"{category.__name__}: {message}\n"


def _configure_plotly() -> None:
    import plotly.io as pio

    # "plotly_mimetype" stores the figure's JSON, which JupyterLab, VS Code and
    # the course site (tools/build_site.py) draw interactively.  No HTML part:
    # viewers without JavaScript (GitHub) prefer HTML to an image, and plotly's
    # HTML would load plotly.js from a CDN; `make notebooks` adds a PNG of each
    # figure instead (tools/figure_images.py).  Colab needs its own renderer.
    if "google.colab" in sys.modules:
        pio.renderers.default = "colab"
    else:
        pio.renderers.default = "plotly_mimetype"
    pio.templates.default = "plotly_white"


def _configure_matplotlib() -> None:
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.figsize": FIGSIZE,
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "image.cmap": "viridis",
        }
    )


def setup_notebook(
    seed: int = 0, threads: int = DEFAULT_THREADS, quiet: bool = False
) -> torch.device:
    """Prepare a lesson notebook and return the device to compute on.

    Seeds Python, NumPy and torch; fixes torch's thread count; sets the plotly
    renderer and matplotlib defaults; shortens warnings so they carry no file
    paths; picks the device (CUDA, then MPS, then CPU) and prints a one-line
    summary of versions and device.
    """
    os.environ.setdefault("PYTHONHASHSEED", str(seed))  # for subprocesses; gensim reads it
    seed_everything(seed)
    torch.set_num_threads(threads)
    warnings.formatwarning = _short_warning
    _configure_plotly()
    _configure_matplotlib()
    device = pick_device()
    if not quiet:
        import gensim

        from llmlab import __version__

        print(
            f"llmlab {__version__} | Python {platform.python_version()} | torch {torch.__version__}"
            f" | gensim {gensim.__version__} | device: {device} | threads: {threads} | seed: {seed}"
        )
    return device
