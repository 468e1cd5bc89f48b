"""The model explorer in a real JupyterLab, in headless Chromium: type a prompt, see the figure change.

The test writes a small notebook into a temporary folder (a setup cell, then lesson 00's own
explorer cell), starts ``jupyter lab`` on a free local
port with a random token (no browser of its own, no update or news checks: nothing leaves the
machine), opens the notebook in Debian's Chromium through Playwright (PyPI's package, with the
system browser: no browser download), runs all cells, waits for the explorer's controls and its
plotly figure, types a new prompt into the explorer and waits until the figure shows it.

Skipped where Chromium or Playwright is missing, except under CI (``CI=true``), where a missing
browser is a failure: the course promises that this test runs in ``make test``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("LLMLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NEW_PROMPT = "Hello from the browser"

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "00_start_here.ipynb"
#: The explorer cell is lesson 00's own (its "first taste"), run after a minimal setup.
EXPLORER_CELL = next(
    "".join(c["source"])
    for c in json.loads(LESSON.read_text(encoding="utf-8"))["cells"]
    if c.get("id") == "widgets-00-explorer-code"
)
DEFAULT_PROMPT = re.search(r'prompt="([^"]*)"', EXPLORER_CELL).group(1)
CELLS = [
    "import plotly.io as pio\n"
    "import torch\n"
    "pio.renderers.default = 'plotly_mimetype'  # drawn by JupyterLab's plotly extension, no CDN\n"
    "torch.set_num_threads(1)",
    EXPLORER_CELL,
]


def _need_browser():
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append(f"Chromium ({CHROMIUM}; on Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright (pip install playwright; no `playwright install` needed)")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + ": under CI it must run, not be skipped")
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(path: Path) -> None:
    cells = [
        dict(cell_type="code", execution_count=None, metadata={}, outputs=[], source=src)
        for src in CELLS
    ]
    nb = dict(
        cells=cells,
        metadata=dict(kernelspec=dict(name="python3", display_name="Python 3", language="python")),
        nbformat=4,
        nbformat_minor=5,
    )
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i}"
    path.write_text(json.dumps(nb))


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on a free port serving ``tmp_path/nb``; yields ``(base_url, token)``."""
    root, home = tmp_path / "nb", tmp_path / "home"
    root.mkdir()
    home.mkdir()
    _notebook(root / "explorer.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        IPYTHONDIR=str(home / "ipython"),
        OMP_WAIT_POLICY="PASSIVE",
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
        "--allow-root",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        "JupyterLab did not start:\n"
                        + (tmp_path / "jupyterlab.log").read_text()[-3000:]
                    )
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def test_typing_a_prompt_updates_the_explorer_figure(jupyterlab, tmp_path):
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    url, token = jupyterlab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        expect.set_options(timeout=120_000)
        try:
            page.goto(f"{url}/lab/tree/explorer.ipynb?token={token}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            expect(page.get_by_text("| Idle")).to_be_visible()  # the kernel is up
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            prompt = page.locator(".widget-text input").first
            figures = page.locator(".jp-Notebook .js-plotly-plot")
            expect(prompt).to_be_visible()
            expect(figures.first).to_contain_text(
                f"“{DEFAULT_PROMPT}” ({len(DEFAULT_PROMPT)} tokens)"
            )  # lesson 00's default input
            prompt.fill(NEW_PROMPT)
            prompt.press("Enter")
            # the live figure, drawn under the controls, shows the new prompt; the first one stays
            live = page.locator(".jupyter-widgets .js-plotly-plot")
            expect(live).to_contain_text(f"“{NEW_PROMPT}” ({len(NEW_PROMPT)} tokens)")
            expect(figures).to_have_count(2)
            # bad input: one line in place, and the figure keeps its last good state
            prompt.fill("caf\u00e9")
            prompt.press("Enter")
            expect(page.get_by_text("no id for")).to_be_visible()
            expect(live).to_contain_text(NEW_PROMPT)
            page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            print(f"screenshot of the page: {tmp_path / 'failure.png'}")
            raise
        finally:
            browser.close()
