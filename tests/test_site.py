"""The course site (`make site`) in a real browser, offline; and a picture for every figure on GitHub.

The site is built from the committed notebooks into a temporary folder, then
every page is opened from ``file://`` in headless Chromium (the system's, driven
by Playwright) with every request outside the site's folder refused.  Each page
must draw all its plotly figures, move a slider and redraw, typeset its math,
and log no failed request and no console error.  Without Chromium the browser
tests are skipped on a developer's machine and fail in CI (``CI`` set), where
.ci/run installs it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

from llmlab import course

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import browser  # noqa: E402  (tools/browser.py)
import build_site  # noqa: E402  (tools/build_site.py)
from figure_images import PLOTLY, WIDGET, widget_outputs, widget_states  # noqa: E402

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
PAGES = ["index", *build_site.DOCS, *(p.stem for p in NOTEBOOKS)]
#: Generous: the test shares two cores with notebook kernels under `make test`.
TIMEOUT_MS = 60_000

#: Text that would mean MathJax left a formula untypeset (code and pre blocks are not searched).
RAW_MATH = ("$$", "\\(", "\\[", "\\frac", "\\sqrt", "\\mathrm", "\\text{", "\\sum", "\\cdot")


def _figures_in(nb) -> int:
    """How many plotly figures a notebook's page must draw (widget outputs included)."""
    states = widget_states(nb)
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            if PLOTLY in data:
                count += 1
            elif WIDGET in data:
                count += sum(
                    PLOTLY in o.get("data", {})
                    for o in widget_outputs(states, data[WIDGET]["model_id"])
                )
    return count


def _widget_views(nb) -> int:
    return sum(
        WIDGET in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


# ------------------------------------------------------------------ GitHub: a picture for every figure


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_figure_carries_a_static_image(path):
    """GitHub runs no JavaScript: each plotly output needs a PNG, and no HTML part that viewers would prefer."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            if PLOTLY in data:
                assert "image/png" in data and "text/html" not in data, (
                    f"{path.name}, cell {i + 1}: a plotly figure without its static image; "
                    f"run `make notebooks NB=notebooks/{path.name}` (or tools/figure_images.py)"
                )


# ------------------------------------------------------------------ markdown for the site


def test_markdown_loads_nothing_from_the_web_and_links_pages():
    badges = "[![Open In Colab](https://colab.example/badge.svg)](https://colab.example/nb) [![Binder](https://binder.example/b.svg)](https://binder.example/nb)"
    assert (
        build_site.page_markdown(badges)
        == "[Open In Colab](https://colab.example/nb) · [Binder](https://binder.example/nb)"
    )
    assert (
        build_site.page_markdown("![a map](https://example.org/map.png)")
        == "[a map](https://example.org/map.png)"
    )
    assert (
        build_site.page_markdown("see [lesson 04](04_mini_gpt.ipynb#sampling) [x](y)")
        == "see [lesson 04](04_mini_gpt.html#sampling) [x](y)"
    )


def test_docs_pages_link_lessons_to_pages_and_files_to_the_repository():
    doc = build_site.ROOT / "docs" / "teaching.md"
    assert build_site.doc_markdown(
        "[runs](notebook-runs.md) [03](../notebooks/03_attention.ipynb#sec) [web](https://a.example/b.md) [top](#top)",
        doc,
    ) == (
        f"[runs]({course.REPO_URL}/blob/{course.BRANCH}/docs/notebook-runs.md)"
        " [03](03_attention.html#sec) [web](https://a.example/b.md) [top](#top)"
    )


# ------------------------------------------------------------------ bad input stops the build


def _notebook(tmp_path: Path, name: str, outputs: list | None, count: int | None = 1) -> Path:
    folder = tmp_path / "nbs"
    folder.mkdir(exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lesson 09: test"),
        nbformat.v4.new_code_cell("x = 1"),
    ]
    nb.cells[1].outputs = outputs or []
    nb.cells[1].execution_count = count
    nbformat.write(nb, folder / name)
    return folder


def test_a_notebook_without_outputs_stops_the_build(tmp_path):
    folder = _notebook(tmp_path, "09_empty.ipynb", outputs=None, count=None)
    with pytest.raises(build_site.SiteError, match=r"09_empty\.ipynb, cell 2 .*no outputs"):
        build_site.build(tmp_path / "site", folder)
    assert not (tmp_path / "site").exists()


def test_an_output_the_site_cannot_show_stops_the_build_and_keeps_the_old_site(tmp_path):
    old = tmp_path / "site"
    old.mkdir()
    (old / build_site.MARKER).write_text("")
    (old / "index.html").write_text("old")
    strange = nbformat.v4.new_output("display_data", data={"application/x-strange": "?"})
    folder = _notebook(tmp_path, "09_strange.ipynb", outputs=[strange])
    with pytest.raises(
        build_site.SiteError, match=r"09_strange\.ipynb, cell 2 .*application/x-strange"
    ):
        build_site.build(old, folder)
    assert (old / "index.html").read_text() == "old"


def test_a_folder_it_did_not_build_is_never_replaced(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(build_site.SiteError, match="not a site built by this tool"):
        build_site.build(mine, _notebook(tmp_path, "09_ok.ipynb", outputs=[]))
    assert (mine / "notes.txt").read_text() == "keep"


# ------------------------------------------------------------------ every page in Chromium, offline


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("built") / "site"
    build_site.build(out, NOTEBOOK_DIR)
    return out


def _open(chrome, site: Path, name: str, **viewport):
    """Open one page offline; returns (page, problems): problems fills with failed requests and errors."""
    context, blocked = browser.open_context(chrome, allowed=[site], viewport=viewport or None)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    root = site.resolve().as_uri() + "/"
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith((root, "data:"))
            else problems.append(f"request outside the site: {r.url}")
        ),
    )
    page.goto((site / f"{name}.html").as_uri(), wait_until="load")
    # MathJax typesets after load; wait for its queue to empty (at most TIMEOUT_MS).
    page.evaluate(
        """ms => window.MathJax ? Promise.race([new Promise(done => MathJax.Hub.Queue(done)),
                                                new Promise(done => setTimeout(done, ms))]) : null""",
        TIMEOUT_MS,
    )
    problems += [f"blocked request: {url}" for url in blocked]
    return page, problems


#: The figure's drawing without its sliders (a slider's own label changes when it moves).
SIGNATURE = """gd => { const c = gd.cloneNode(true); c.querySelectorAll('.slider-container').forEach(n => n.remove());
                       return c.innerHTML; }"""


def _move_a_slider(page) -> str | None:
    """Click the far end of the first slider on the page; returns a problem, or None if the figure changed."""
    index = page.evaluate(
        """() => [...document.querySelectorAll('.plotly-graph-div')].findIndex(gd =>
               (gd._fullLayout.sliders || []).some(s => s.visible && s.steps.length > 1))"""
    )
    if index < 0:
        return None
    figure = page.locator(".plotly-graph-div").nth(index)
    before = figure.evaluate(SIGNATURE)
    active, steps = figure.evaluate(
        "gd => { const s = gd._fullLayout.sliders.find(s => s.visible && s.steps.length > 1); return [s.active, s.steps.length]; }"
    )
    rail = figure.locator(".slider-container .slider-rail-touch-rect").first
    rail.scroll_into_view_if_needed()
    box = rail.bounding_box()
    x = box["x"] + 3 if active >= steps / 2 else box["x"] + box["width"] - 3
    page.mouse.click(x, box["y"] + box["height"] / 2)
    for _ in range(40):  # up to 10 s: a step may animate
        page.wait_for_timeout(250)
        if figure.evaluate(SIGNATURE) != before:
            return None
    return "moving the first slider did not change its figure"


@pytest.mark.parametrize("name", PAGES)
def test_page_shows_everything_offline(chrome, site, name):
    page, problems = _open(chrome, site, name, width=1280, height=900)
    # Every plotly figure drew: its SVG exists and has an area.
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('.plotly-graph-div')].map(gd => {
               const svg = gd.querySelector('svg.main-svg');
               const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
               return box.width * box.height; })"""
    )
    if name == "index":
        assert page.evaluate("() => document.querySelector('img.pipeline').naturalWidth") > 0
        links = page.evaluate(
            "() => [...document.querySelectorAll('.site-lessons a')].map(a => a.getAttribute('href'))"
        )
        assert links == [f"{p.stem}.html" for p in NOTEBOOKS]
        assert page.locator("a.site-teaching-link").get_attribute("href") == "teaching.html"
    elif name in build_site.DOCS:
        assert page.title().startswith(build_site.doc_title(build_site.DOCS[name]))
        assert not sizes
        # Its lesson links lead to lesson pages that exist; nothing points at a notebook file.
        hrefs = page.evaluate(
            "() => [...document.querySelectorAll('a')].map(a => a.getAttribute('href'))"
        )
        assert not [h for h in hrefs if h and h.endswith(".ipynb")]
        for href in {h.split("#")[0] for h in hrefs if h and h.endswith(".html")}:
            assert (site / href).is_file(), f"{name} links to {href}, which the site does not have"
    else:
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        assert len(sizes) == _figures_in(nb), (
            f"{name}: {len(sizes)} figures on the page, {_figures_in(nb)} in the notebook"
        )
        assert page.locator(".site-note").count() == _widget_views(nb), (
            "every ipywidgets view gets its note"
        )
        assert page.title().startswith(build_site.lesson_title(name, nb))
    assert all(size > 0 for size in sizes), (
        f"{name}: {sizes.count(0)} of {len(sizes)} figures did not draw"
    )
    problem = _move_a_slider(page)
    assert problem is None, f"{name}: {problem}"
    # No formula left as raw TeX in the text (code is allowed to contain backslashes and dollars).
    text = page.evaluate(
        """() => [...document.querySelectorAll('.jp-RenderedMarkdown, .jp-RenderedHTMLCommon')].map(el => {
               const c = el.cloneNode(true); c.querySelectorAll('code, pre, script').forEach(n => n.remove());
               return c.innerText; }).join('\\n')"""
    )
    raw = [s for s in RAW_MATH if s in text]
    assert not raw, f"{name}: raw math left on the page: {raw}"
    assert not problems, f"{name}: " + "; ".join(problems[:5])
    page.context.close()


def test_lesson_pages_read_on_a_phone(chrome, site):
    """At a phone's width the text fits: the page itself never scrolls sideways (wide figures scroll inside their box)."""
    name = NOTEBOOKS[0].stem  # lesson 00: text, a wide figure with a slider, a widget
    page, problems = _open(chrome, site, name, width=390, height=844)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{name} is {overflow}px wider than a phone's screen"
    assert not problems, "; ".join(problems[:5])
    page.context.close()
