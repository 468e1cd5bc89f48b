"""Shared test setup: every test runs with a fixed seed, and in CI a missing reference fails.

Tests against an independent reference (transformers, gguf, ...) use ``pytest.importorskip``,
so a learner without the reference library still runs everything else.  In CI (``CI`` set)
a reference that cannot be imported must not pass silently as a skip: the skip becomes a
failure, except for the optional runtimes listed in :data:`OPTIONAL_IN_CI`.
"""

import os
import sys
from pathlib import Path

import pytest
import torch

TOOLS = Path(__file__).resolve().parents[1] / "tools"

#: Modules CI does not install on purpose: llama-cpp-python builds from source (`make llama-cpp`).
OPTIONAL_IN_CI = {"llama_cpp"}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (os.environ.get("CI") and report.skipped and call.excinfo is not None):
        return
    message = str(getattr(call.excinfo.value, "msg", ""))
    if message.startswith("could not import") and not any(
        f"'{m}'" in message for m in OPTIONAL_IN_CI
    ):
        report.outcome = "failed"
        report.longrepr = f"reference missing in CI: {message}"


@pytest.fixture(scope="module")
def chrome():
    """Headless system Chromium (tools/browser.py): skipped where it is missing, a failure in CI."""
    sys.path.insert(0, str(TOOLS))
    import browser

    try:
        browser.find_chromium()
        with browser.chromium() as b:
            yield b
    except browser.BrowserMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the browser checks must run in CI: {exc}")
        pytest.skip(str(exc))
