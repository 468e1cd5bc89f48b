"""Headless Chromium for the tools and tests that need a real browser, with the network cut off.

The browser is the system's own (Debian's ``chromium`` package), driven by
Playwright from PyPI; Playwright's browser download is never used.  Every page
opened through :func:`open_context` may read files under the folders it is given
and nothing else: any other request is aborted and recorded, so a page that
would reach the network (a CDN, a badge, a font) is caught, not silently served.

    with chromium() as browser:
        context, blocked = open_context(browser, allowed=[site_dir])
        page = context.new_page()
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Where the browser is looked for, in order (``CHROMIUM`` overrides).
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Flags for a quiet, offline, container-friendly browser.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class BrowserMissing(RuntimeError):
    """No usable Chromium (or no Playwright) on this machine."""


def find_chromium() -> str:
    """The path of the system's Chromium, or :class:`BrowserMissing` saying how to get one."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        if not Path(explicit).is_file():
            raise BrowserMissing(f"CHROMIUM={explicit} is not a file")
        return explicit
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissing(
        "Chromium not found: install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM=/path/to/chromium"
    )


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium (Playwright ``Browser``), closed on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserMissing(
            "Playwright is missing: pip install -e '.[dev]' (or pip install playwright)"
        ) from exc
    path = find_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_context(browser, allowed: list[Path] = (), **options):
    """A browser context that may read only files under ``allowed``.

    Returns ``(context, blocked)``: ``blocked`` is a list that fills with the
    URL of every request the context refused.  ``options`` go to
    ``browser.new_context`` (viewport, device_scale_factor, ...).
    """
    roots = [Path(a).resolve().as_uri().rstrip("/") + "/" for a in allowed]
    blocked: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith("data:") or any(url.startswith(root) for root in roots):
            r.continue_()
        else:
            blocked.append(url)
            r.abort("blockedbyclient")

    context = browser.new_context(service_workers="block", **options)
    context.route("**/*", route)
    return context, blocked
