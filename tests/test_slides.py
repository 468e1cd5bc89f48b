"""Slides: the slide metadata rule (tools/sync_notebooks.py) and the static slides (`make slides`) offline.

The slides of one small lesson are built into a temporary folder and opened from
``file://`` in headless Chromium with every request outside that folder refused:
reveal.js must start, the lesson must come out as several slides, a plotly figure
must draw, and no request may fail.  Without Chromium the browser test is skipped
on a developer's machine and fails in CI (``CI`` set), where .ci/run installs it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import browser  # noqa: E402  (tools/browser.py)
import build_site  # noqa: E402  (tools/build_site.py)
import build_slides  # noqa: E402  (tools/build_slides.py)
import sync_notebooks  # noqa: E402  (tools/sync_notebooks.py)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: The lesson the browser test presents: short, with plotly figures, math and a widget.
LESSON = ROOT / "notebooks" / "00_start_here.ipynb"
TIMEOUT_MS = 60_000


# ------------------------------------------------------------------ the rule


def _synthetic():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        md("# Lesson 99: a title"),
        md("[![Colab](https://example.org/b.svg)](https://example.org)"),
        code("%pip install llmlab"),
        code("import llmlab"),
        md("## 1. A section\n\nsome text"),
        md("more text on the same screen"),
        code("x = 1"),
        md("what x shows"),
        code("helper()"),
        md("text after the skipped helper: the cell shown before it is markdown"),
        md("  ### A sub-heading"),
        md("#hashtag, not a heading"),
        code("y = 2"),
        md("text after a code cell"),
    ]
    nb.cells[1].metadata["tags"] = ["llmlab-badges"]
    nb.cells[2].metadata["tags"] = ["llmlab-setup"]
    nb.cells[8].metadata["tags"] = ["llmlab-no-slide"]
    return nb


def test_the_rule_gives_each_cell_its_slide_type():
    nb = _synthetic()
    assert sync_notebooks.slide_types(nb) == [
        "slide",  # '# ' title
        "skip",  # badges
        "skip",  # setup
        "-",  # code right after the title
        "slide",  # '## ' section
        "-",  # text under it
        "-",  # its code
        "subslide",  # text after a code cell
        "skip",  # a helper tagged llmlab-no-slide
        "-",  # the skipped helper is passed over
        "subslide",  # '### ' heading
        "-",  # '#hashtag' is no heading
        "-",
        "subslide",
    ]


def test_sync_writes_the_metadata_and_is_idempotent(tmp_path):
    path = tmp_path / "00_start_here.ipynb"  # a known lesson: sync also writes its badges
    nb = _synthetic()
    nb.cells[4].metadata["slideshow"] = {"slide_type": "fragment"}  # a hand-made type is replaced
    nbformat.write(nb, path)
    sync_notebooks.sync(path)
    written = nbformat.read(path, as_version=4)
    assert [c.metadata["slideshow"]["slide_type"] for c in written.cells] == (
        sync_notebooks.slide_types(_synthetic())
    )
    assert not sync_notebooks.sync(path), "a second run changes nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_lessons_carry_the_rules_slide_metadata(path):
    nb = nbformat.read(path, as_version=4)
    assert not sync_notebooks.sync_slides(nb), (
        f"{path.name}: its slide metadata is not the rule's; run `make notebooks NB=notebooks/{path.name}`"
        " (or tools/sync_notebooks.py)"
    )


# ------------------------------------------------------------------ bad input


def test_a_folder_it_did_not_build_is_never_replaced(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "talk.html").write_text("keep")
    with pytest.raises(build_site.SiteError, match="not a slides folder built by this tool"):
        build_slides.build(mine, [LESSON])
    assert (mine / "talk.html").read_text() == "keep"


def test_a_notebook_not_executed_stops_the_build(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Lesson 99"), nbformat.v4.new_code_cell("x = 1")]
    path = tmp_path / "99_raw.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(build_site.SiteError, match=r"99_raw\.ipynb, cell 2 .*no outputs"):
        build_slides.build(tmp_path / "slides", [path])
    assert not (tmp_path / "slides").exists()


# ------------------------------------------------------------------ the slides in Chromium, offline


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    out = tmp_path_factory.mktemp("built") / "slides"
    build_slides.build(out, [LESSON])
    return out


def test_slides_present_offline(chrome, slides, tmp_path):
    context, blocked = browser.open_context(
        chrome, allowed=[slides], viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    page.goto((slides / f"{LESSON.stem}.slides.html").as_uri(), wait_until="load")
    page.wait_for_function("() => window.Reveal && Reveal.isReady()")

    nb = nbformat.read(LESSON, as_version=4)
    types = sync_notebooks.slide_types(nb)
    # One horizontal slide per '#'/'##' heading, a screen for it and one per sub-slide.
    assert page.evaluate("() => Reveal.getHorizontalSlides().length") == types.count("slide")
    assert page.evaluate("() => Reveal.getTotalSlides()") == types.count("slide") + types.count(
        "subslide"
    )
    assert page.title().startswith(build_site.lesson_title(LESSON.stem, nb))
    # The setup cell and the badges are not on any slide.
    assert page.locator(".reveal .slides").inner_text().count("Open In Colab") == 0

    # Go to the first screen with a plotly figure: it is drawn, with an area.
    h, v = page.evaluate(
        """() => { const s = [...document.querySelectorAll('.reveal .slides section:not(.stack)')]
                     .find(s => s.querySelector('.plotly-graph-div'));
                   const i = Reveal.getIndices(s); return [i.h, i.v || 0]; }"""
    )
    page.evaluate(f"() => Reveal.slide({h}, {v})")
    page.wait_for_timeout(500)
    area = page.evaluate(
        """() => { const svg = Reveal.getCurrentSlide().querySelector('.plotly-graph-div svg.main-svg');
                   if (!svg) return 0; const b = svg.getBoundingClientRect(); return b.width * b.height; }"""
    )
    assert area > 0, "the plotly figure on its slide did not draw"
    page.screenshot(path=str(tmp_path / "slide.png"))

    # Math is typeset (MathJax from _static), and nothing reached outside the folder.
    page.evaluate(
        "ms => Promise.race([new Promise(d => MathJax.Hub.Queue(d)), new Promise(d => setTimeout(d, ms))])",
        TIMEOUT_MS,
    )
    problems += [f"blocked request: {url}" for url in blocked]
    assert not problems, "; ".join(problems[:5])
    context.close()
