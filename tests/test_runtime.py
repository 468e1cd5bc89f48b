"""llmlab.runtime: setup_notebook() makes a run repeatable and sets up plotting; pick_device() obeys LLMLAB_DEVICE."""

import random
import sys
import types
import warnings

import matplotlib as mpl
import numpy as np
import plotly.io as pio
import pytest
import torch

import llmlab
from llmlab import runtime


@pytest.fixture(autouse=True)
def _restore_globals():
    """setup_notebook() changes process-wide settings; put them back after each test."""
    threads = torch.get_num_threads()
    renderer, template = pio.renderers.default, pio.templates.default
    rc = mpl.rcParams.copy()
    formatwarning = warnings.formatwarning
    yield
    torch.set_num_threads(threads)
    pio.renderers.default, pio.templates.default = renderer, template
    mpl.rcParams.update(rc)
    warnings.formatwarning = formatwarning


def _draws():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_same_seed_same_random_numbers():
    llmlab.setup_notebook(seed=123, quiet=True)
    first = _draws()
    llmlab.setup_notebook(seed=123, quiet=True)
    assert _draws() == first
    llmlab.setup_notebook(seed=124, quiet=True)
    assert _draws() != first


def test_thread_count_is_set():
    llmlab.setup_notebook(threads=1, quiet=True)
    assert torch.get_num_threads() == 1
    llmlab.setup_notebook(quiet=True)
    assert torch.get_num_threads() == runtime.DEFAULT_THREADS


def test_plotly_renderer_stores_the_figure_and_no_cdn_html():
    llmlab.setup_notebook(quiet=True)
    assert pio.renderers.default == "plotly_mimetype"
    # No text/html: it would load plotly.js from a CDN and hide the PNG that
    # `make notebooks` adds (tools/figure_images.py) from viewers without JavaScript.
    bundle = pio.renderers[pio.renderers.default].to_mimebundle({"data": [], "layout": {}})
    assert set(bundle) == {"application/vnd.plotly.v1+json"}


def test_plotly_renderer_on_colab(monkeypatch):
    google = types.ModuleType("google")
    colab = types.ModuleType("google.colab")
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    llmlab.setup_notebook(quiet=True)
    assert pio.renderers.default == "colab"


def test_matplotlib_defaults():
    llmlab.setup_notebook(quiet=True)
    assert tuple(mpl.rcParams["figure.figsize"]) == runtime.FIGSIZE
    assert mpl.rcParams["axes.spines.top"] is False


def test_returns_a_device_and_prints_one_summary_line(capsys, monkeypatch):
    monkeypatch.delenv("LLMLAB_DEVICE", raising=False)
    device = llmlab.setup_notebook()
    assert isinstance(device, torch.device)
    assert device == runtime.pick_device()
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert f"torch {torch.__version__}" in lines[0] and f"device: {device}" in lines[0]
    assert "threads: 2" in lines[0] and "seed: 0" in lines[0]


def test_warnings_carry_no_file_path():
    llmlab.setup_notebook(quiet=True)
    text = warnings.formatwarning("careful", UserWarning, "/home/someone/project/x.py", 12)
    assert text == "UserWarning: careful\n"


def test_pick_device_honours_llmlab_device(monkeypatch):
    monkeypatch.setenv("LLMLAB_DEVICE", "cpu")
    assert runtime.pick_device() == torch.device("cpu")
    monkeypatch.setenv("LLMLAB_DEVICE", "meta")  # any torch device name; "meta" needs no hardware
    assert runtime.pick_device() == torch.device("meta")
    assert llmlab.setup_notebook(quiet=True) == torch.device("meta")
    assert runtime.pick_device("cpu") == torch.device("cpu")  # an explicit choice wins


def test_pick_device_without_override_is_an_available_device(monkeypatch):
    monkeypatch.delenv("LLMLAB_DEVICE", raising=False)
    device = runtime.pick_device()
    assert device.type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        assert device.type != "cuda"
    torch.zeros(1, device=device)  # usable
