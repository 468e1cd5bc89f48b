"""Static reveal.js slides of every lesson, for presenting without Jupyter (``make slides``).

Nothing is executed: each lesson is shown as ``make notebooks`` saved it, cut
into slides by the rule of tools/sync_notebooks.py (a ``#``/``##`` heading
starts a slide, a ``###`` heading or the text after a code cell a sub-slide
below it; the setup cell and the badges are left out), and converted by
nbconvert's slides exporter with the template tools/site/templates/slides.
The outputs are prepared as on the course site (tools/build_site.py): plotly
figures drawn from their saved JSON, MathJax, an ipywidgets control replaced by
what it showed.  The slides open from ``file://`` and ask nothing of the network:

- reveal.js 5 comes from the sphinx-revealjs package (a dev dependency), which
  ships its files; the ones the slides load are copied into ``_static/reveal.js``;
- plotly.js and MathJax are copied into ``_static`` as for the site.

To present with live code instead, open the lesson in JupyterLab and use RISE
(the jupyterlab-rise extension: the "Render as slideshow" button, or Alt-R).

    python tools/build_slides.py                                  # -> build/slides/index.html
    python tools/build_slides.py notebooks/03_attention.ipynb     # one lesson
    python tools/build_slides.py --out /tmp/slides
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_site  # noqa: E402  (tools/build_site.py: checks, outputs and _static shared with the site)
import sync_notebooks  # noqa: E402  (tools/sync_notebooks.py: the slide rule)

ROOT = build_site.ROOT
DEFAULT_OUT = ROOT / "build" / "slides"
STATIC = build_site.STATIC
#: A lesson's slides are <stem>.slides.html, as nbconvert names them.
SUFFIX = ".slides.html"
#: Slide size in CSS pixels; reveal.js scales it to the screen.
WIDTH, HEIGHT = 1280, 800
#: The parts of reveal.js the slides load (paths inside the package's reveal.js folder).
REVEAL_FILES = (
    "LICENSE",
    "dist/reveal.css",
    "dist/reveal.js",
    "dist/theme/white.css",
    "dist/theme/fonts/source-sans-pro",
    "plugin/notes/notes.js",
)


class SlidesError(build_site.SiteError):
    """Slides that cannot be built; the message says what to do."""


def reveal_dir() -> Path:
    """reveal.js as the sphinx-revealjs package ships it (found without importing Sphinx)."""
    spec = importlib.util.find_spec("sphinx_revealjs")
    if spec is None or not spec.submodule_search_locations:
        raise SlidesError(
            "reveal.js is missing: it comes with the sphinx-revealjs package; pip install -e '.[dev]'"
        )
    folder = Path(spec.submodule_search_locations[0]) / "_static" / "revealjs"
    missing = [f for f in REVEAL_FILES if not (folder / f).exists()]
    if missing:
        raise SlidesError(f"the sphinx-revealjs package has no {missing[0]} under {folder}")
    return folder


def copy_reveal(static: Path) -> None:
    """Copy the reveal.js files the slides load into ``static/reveal.js``."""
    source, target = reveal_dir(), static / "reveal.js"
    for name in REVEAL_FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        else:
            shutil.copy2(source / name, target / name)


def slides_of(path: Path, exporter: SlidesExporter) -> tuple[str, str]:
    """The title and the slides (an HTML page) of one lesson; SiteError if the notebook cannot be shown."""
    nb = nbformat.read(path, as_version=4)
    build_site.check(path, nb)
    sync_notebooks.sync_slides(nb)  # the rule, even where the committed metadata is older
    build_site.prepare(nb, suffix=SUFFIX)
    title = build_site.lesson_title(path.stem, nb)
    resources = {
        "metadata": {"name": f"{title} | {build_site.NAME}", "path": str(path.parent)},
        "site": {"static": STATIC},
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return title, body


def index_page(titles: dict[str, str]) -> str:
    """A plain page linking every lesson's slides."""
    items = "\n".join(
        f'<li><a href="{stem}{SUFFIX}">{html.escape(title)}</a></li>'
        for stem, title in titles.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{build_site.NAME}: slides</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto;">
<h1>{build_site.NAME}: slides</h1>
<p>One slideshow per lesson. Arrow keys move (right: next section, down: its next screen),
Esc shows them all, S opens the speaker view. Everything here works offline.</p>
<ul>
{items}
</ul>
</body></html>
"""


def build(out: Path = DEFAULT_OUT, paths: list[Path] | None = None) -> dict[str, str]:
    """Build the slides of ``paths`` (default: every lesson) into ``out``; returns {stem: title}."""
    out = out.resolve()
    build_site.refuse_foreign(out, "a slides folder")
    paths = paths or build_site.lesson_paths(build_site.NOTEBOOKS)
    exporter = SlidesExporter(
        template_name="slides",
        extra_template_basedirs=[str(build_site.SITE_SRC / "templates")],
        # the site's MathJax snippet (tools/site/templates/course/site_mathjax.html.j2)
        extra_template_paths=[str(build_site.SITE_SRC / "templates" / "course")],
        reveal_url_prefix=f"{STATIC}/reveal.js",
        reveal_theme="white",
        reveal_transition="none",
        reveal_width=str(WIDTH),
        reveal_height=str(HEIGHT),
    )
    titles = {}
    with build_site.replacing(out, "make slides") as tmp:
        build_site.copy_scripts(tmp / STATIC)
        copy_reveal(tmp / STATIC)
        shutil.copy2(build_site.SITE_SRC / "static" / "slides.css", tmp / STATIC / "slides.css")
        for path in paths:
            titles[path.stem], body = slides_of(path, exporter)
            (tmp / f"{path.stem}{SUFFIX}").write_text(body, encoding="utf-8")
        (tmp / "index.html").write_text(index_page(titles), encoding="utf-8")
    return titles


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="lessons (default: every lesson)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder of the slides (default: build/slides)"
    )
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if not path.is_file():
            print(f"make slides: {path} is not a notebook file", file=sys.stderr)
            return 1
    start = time.perf_counter()
    try:
        titles = build(args.out, args.notebooks or None)
    except build_site.SiteError as exc:
        print(f"make slides: {exc}", file=sys.stderr)
        return 1
    index = args.out.resolve() / "index.html"
    print(
        f"slides of {len(titles)} lessons in {time.perf_counter() - start:.1f} s: open {index.as_uri()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
