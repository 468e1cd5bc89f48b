"""Build the course site: static HTML pages from the committed, executed notebooks (``make site``).

Nothing is executed: each page is a notebook as ``make notebooks`` saved it,
converted by nbconvert with JupyterLab's template (tools/site/templates/course).
The site works from ``file://`` and from any static host, and no page asks
anything of the network:

- plotly.js is one file, ``_static/plotly.min.js`` (the copy the plotly package
  ships); every plotly figure is drawn from its saved JSON, sliders and menus work;
- math is typeset by MathJax 2.7 from ``_static/mathjax`` (the jupyter-server-mathjax package);
- an ipywidgets control, which needs a kernel, is replaced by what its Output
  widgets held when the notebook was saved, under a one-line note saying so;
- image badges (Colab, Binder) become text links;
- ``playground.html`` (``llmlab.web_export``) runs the course model itself in the page, in plain
  JavaScript: lessons 03 and 04 link to it where their explorers need a kernel.

A notebook that was saved unexecuted, holds an error, or has an output the site
cannot show stops the build with a line naming the notebook and the cell; the
site folder is replaced only when every page was built.

    python tools/build_site.py                   # -> build/site/index.html
    python tools/build_site.py --out /tmp/site
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import jinja2
import jupyter_server_mathjax
import nbformat
import plotly.io as pio
from nbconvert import HTMLExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figure_images import (  # noqa: E402  (tools/figure_images.py)
    PLOTLY,
    PLOTLY_JS,
    WIDGET,
    is_plotly_loader,
    widget_outputs,
    widget_states,
)

from llmlab import course, environment, web_export  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SITE_SRC = Path(__file__).resolve().parent / "site"
DEFAULT_OUT = ROOT / "build" / "site"
STATIC = "_static"
#: A file every built site carries, so that --out never replaces a folder this tool did not make.
MARKER = ".llmlab-site"
NAME = "LLM Lab"
#: Lessons whose pages point to the playground, and what it shows there.
PLAYGROUND = {
    "03_attention": "Type any prompt and see every layer's and head's attention, as a heatmap and as lines.",
    "04_mini_gpt": "Type any prompt, change temperature, top-k and top-p, and sample the next character.",
}

MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"
#: Parts of MathJax these pages never load (menus in other languages, the SVG output).
MATHJAX_SKIP = ("localization", "SVG")

#: Output types a page can show (the first one present, in nbconvert's order, is shown).
RENDERABLE = {
    PLOTLY, WIDGET, "text/html", "image/svg+xml", "image/png", "image/jpeg",
    "text/markdown", "text/latex", "text/plain",
}  # fmt: skip
#: HTML that would make the browser fetch something from another site.
REMOTE_FETCH = re.compile(
    r"<(?:script|img|link|iframe|source|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)",
    re.I,
)
#: A badge: a markdown image from the web inside a link, [![alt](image-url)](target).
BADGE = re.compile(r"\[!\[([^\]]*)\]\((?:https?:)?//[^)]*\)\]\(([^)]*)\)")
#: Any other markdown image from the web, ![alt](url).
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\(((?:https?:)?//[^)\s]*)[^)]*\)")
#: A markdown link to a relative path (not a URL, not an anchor): (target, #anchor).
RELATIVE_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|/|#)([^)#\s]+)(#[^)\s]*)?\)")
#: Pages made from docs/ (markdown): the page name and its file.
DOCS = {"teaching": ROOT / "docs" / "teaching.md"}
#: A link to another lesson's notebook, which on the site is its page.
NOTEBOOK_LINK = re.compile(r"\]\((?:\./)?(\d\d_[A-Za-z0-9_]+)\.ipynb(#[^)]*)?\)")

NOTE = (
    '<div class="site-note">ipywidgets control: it needs a running Python kernel (JupyterLab, Colab or Binder).'
    " {what}</div>"
)


class SiteError(Exception):
    """A notebook the site cannot show as it is; the message names the notebook and the cell."""


@dataclass
class Page:
    """One lesson page."""

    stem: str
    title: str
    step: str = ""
    summary: str = ""
    run_time: str = environment.NOT_MEASURED
    peak_memory: str = environment.NOT_MEASURED

    @property
    def href(self) -> str:
        return f"{self.stem}.html"


# ------------------------------------------------------------------ checking a notebook


def _where(path: Path, index: int, cell) -> str:
    first = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else "(empty)"
    return f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}, cell {index + 1} ({first!r})"


def check(path: Path, nb) -> None:
    """Raise :class:`SiteError` if a page built from ``nb`` would show a blank or an error."""
    rerun = (
        f"run `make notebooks NB={path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}`"
    )
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    if code and not any(c.get("outputs") for _, c in code):
        i, cell = code[0]
        raise SiteError(
            f"{_where(path, i, cell)}: the notebook has no outputs at all (saved unexecuted); {rerun}"
        )
    states = widget_states(nb)
    for i, cell in code:
        if cell.source.strip() and cell.get("execution_count") is None:
            raise SiteError(f"{_where(path, i, cell)}: this cell was not executed; {rerun}")
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                raise SiteError(
                    f"{_where(path, i, cell)}: an error output ({out.ename}: {out.evalue}); fix it and {rerun}"
                )
            if out.output_type == "stream":
                continue
            data = out.get("data", {})
            if not RENDERABLE & set(data):
                raise SiteError(
                    f"{_where(path, i, cell)}: an output of type {', '.join(data) or '(none)'} the site cannot show"
                )
            if WIDGET in data and data[WIDGET].get("model_id") not in states:
                raise SiteError(
                    f"{_where(path, i, cell)}: an ipywidgets output whose state was not saved; {rerun}"
                )
            html = data.get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            fetch = REMOTE_FETCH.search(html)
            if fetch and PLOTLY not in data and not is_plotly_loader(out):
                raise SiteError(
                    f"{_where(path, i, cell)}: an HTML output that loads {fetch.group(1)} from the network"
                )


# ------------------------------------------------------------------ turning outputs into what a page shows


def _html_output(html: str) -> dict:
    return nbformat.v4.new_output("display_data", data={"text/html": html})


def _figure_html(figure: dict, div_id: str) -> str:
    """A plotly figure as a <div> and the script that draws it with the page's plotly.js."""
    html = pio.to_html(
        figure,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        auto_play=False,
        validate=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )
    return f'<div class="site-figure">{html}</div>'


def page_outputs(outputs: list, states: dict, prefix: str, playground: str = "") -> list:
    """The outputs a page shows for a cell's saved ``outputs`` (``playground``: said beside each widget's note)."""
    shown = []
    for j, out in enumerate(outputs):
        data = out.get("data", {})
        if is_plotly_loader(out):
            continue  # plotly.js comes from the page's own _static/ folder
        if PLOTLY in data:
            shown.append(_html_output(_figure_html(data[PLOTLY], f"{prefix}-{j}")))
        elif WIDGET in data:
            inner = widget_outputs(states, data[WIDGET]["model_id"])
            what = "Below: what it showed when the notebook was executed." if inner else ""
            if playground:
                what += ' Without a kernel, <a href="playground.html">the playground</a> runs the model in this page.'
            shown.append(_html_output(NOTE.format(what=what.strip())))
            shown += page_outputs(inner, states, f"{prefix}-{j}")
        else:
            shown.append(out)
    return shown


def page_markdown(source: str, suffix: str = ".html") -> str:
    """A markdown cell for the site: web images become text links, notebook links point to pages (stem + ``suffix``)."""
    lines = []
    for line in source.split("\n"):
        if BADGE.search(line):  # a row of badges becomes "Open In Colab · Binder"
            line = re.sub(r"(\]\([^)\s]*\)) +(?=\[)", r"\1 · ", BADGE.sub(r"[\1](\2)", line))
        lines.append(line)
    source = "\n".join(lines)
    source = REMOTE_IMAGE.sub(r"[\1](\2)", source)
    return NOTEBOOK_LINK.sub(rf"](\1{suffix}\2)", source)


def prepare(nb, playground: str = "", suffix: str = ".html") -> None:
    """Rewrite ``nb`` in place into what its page shows.

    ``playground``: its widgets' notes point there; ``suffix``: links to another lesson go to its stem + suffix.
    """
    states = widget_states(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = page_markdown(cell.source, suffix)
        elif cell.cell_type == "code":
            cell.outputs = page_outputs(cell.get("outputs", []), states, f"figure-{i}", playground)
    nb.metadata.pop("widgets", None)


# ------------------------------------------------------------------ pages from docs/


def doc_markdown(source: str, path: Path) -> str:
    """A markdown page of docs/ for the site: lesson links point to pages, other files to the repository."""

    def link(m: re.Match) -> str:
        target, anchor = m.group(1), m.group(2) or ""
        lesson = re.fullmatch(r"(?:\.\./notebooks/|notebooks/)?(\d\d_[A-Za-z0-9_]+)\.ipynb", target)
        if lesson:
            return f"]({lesson.group(1)}.html{anchor})"
        file = (path.parent / target).resolve()
        if file.is_relative_to(ROOT):
            where = file.relative_to(ROOT).as_posix()
            return f"]({course.REPO_URL}/blob/{course.BRANCH}/{where}{anchor})"
        return m.group(0)

    return page_markdown(RELATIVE_LINK.sub(link, source))


def doc_notebook(path: Path):
    """A markdown file as a notebook of one markdown cell, which the lesson template shows."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(doc_markdown(path.read_text(encoding="utf-8"), path))]
    return nb


def doc_title(path: Path) -> str:
    """A docs page's title: its first ``# `` heading."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def doc_resources(path: Path) -> dict:
    return {
        "metadata": {"name": f"{doc_title(path)} | {NAME}", "path": str(path.parent)},
        "site": {"name": NAME, "static": STATIC, "prev": None, "next": None, "playground": None},
    }


# ------------------------------------------------------------------ a folder of built pages (the site, the slides)


def lesson_paths(notebooks_dir: Path) -> list[Path]:
    """The lesson notebooks (``NN_name.ipynb``) in ``notebooks_dir``, in order; SiteError if none."""
    paths = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise SiteError(f"no lesson notebooks (NN_name.ipynb) in {notebooks_dir}")
    return paths


def refuse_foreign(out: Path, what: str) -> None:
    """SiteError if ``out`` exists but was not built by these tools (it has no :data:`MARKER`)."""
    if out.exists() and not (out / MARKER).exists():
        raise SiteError(
            f"{out} exists and is not {what} built by this tool: choose another --out or remove it"
        )


@contextmanager
def replacing(out: Path, command: str) -> Iterator[Path]:
    """Yield a new folder beside ``out``; when the block ends without an error it replaces ``out``.

    The folder is marked with :data:`MARKER` so that a later build may replace it; on an
    error it is removed and ``out`` is left as it was.
    """
    refuse_foreign(out, "a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp's is owner-only; a web server must read the pages
    try:
        yield tmp
        (tmp / MARKER).write_text(f"Built by `{command}`, which replaces this folder.\n")
        old = out.with_name(out.name + ".old")
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ the site


def lesson_title(stem: str, nb) -> str:
    """The page title: the notebook's first heading ("Lesson 03: ..."), else llmlab.course's title."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    try:
        return f"Lesson {stem[:2]}: {course.lesson(stem).title}"
    except KeyError:
        return stem


def pages_for(paths: list[Path], notebooks: dict) -> list[Page]:
    runs = {row["lesson"]: row for row in environment.lesson_runs()}
    pages = []
    for path in paths:
        page = Page(path.stem, lesson_title(path.stem, notebooks[path]))
        try:
            item = course.lesson(path.stem)
            page.step, page.summary = item.step, item.summary
        except KeyError:
            pass
        if path.stem in runs:
            page.run_time, page.peak_memory = (
                runs[path.stem]["run time"],
                runs[path.stem]["peak memory"],
            )
        pages.append(page)
    return pages


def copy_scripts(static: Path) -> None:
    """Put the scripts a page of saved outputs needs into ``static``: plotly.js and MathJax, from their packages."""
    static.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PLOTLY_JS, static / "plotly.min.js")
    shutil.copytree(MATHJAX, static / "mathjax", ignore=shutil.ignore_patterns(*MATHJAX_SKIP))


def copy_static(out: Path) -> None:
    static = out / STATIC
    copy_scripts(static)
    shutil.copy2(SITE_SRC / "static" / "course.css", static / "course.css")
    (out / "images").mkdir()
    shutil.copy2(
        ROOT / "images" / "transformer_pipeline.png", out / "images" / "transformer_pipeline.png"
    )


def build(out: Path = DEFAULT_OUT, notebooks_dir: Path = NOTEBOOKS) -> list[Page]:
    """Build the whole site into ``out`` (replaced only if every page builds); returns its pages."""
    out = out.resolve()
    refuse_foreign(out, "a site")
    paths = lesson_paths(notebooks_dir)
    notebooks = {p: nbformat.read(p, as_version=4) for p in paths}
    for path, nb in notebooks.items():
        check(path, nb)
    pages = pages_for(paths, notebooks)

    with replacing(out, "make site") as tmp:
        copy_static(tmp)
        web_export.export_web(tmp, home="index.html")  # playground.html and playground/
        exporter = HTMLExporter(
            template_name="course", extra_template_basedirs=[str(SITE_SRC / "templates")]
        )
        for k, (path, page) in enumerate(zip(paths, pages, strict=True)):
            nb = notebooks[path]
            prepare(nb, PLAYGROUND.get(page.stem, ""))
            site = {
                "name": NAME,
                "static": STATIC,
                "prev": pages[k - 1] if k > 0 else None,
                "next": pages[k + 1] if k + 1 < len(pages) else None,
                "playground": PLAYGROUND.get(page.stem),
            }
            resources = {
                "metadata": {"name": f"{page.title} | {NAME}", "path": str(path.parent)},
                "site": site,
            }
            html, _ = exporter.from_notebook_node(nb, resources=resources)
            (tmp / page.href).write_text(html, encoding="utf-8")
        for name, path in DOCS.items():
            html, _ = exporter.from_notebook_node(doc_notebook(path), resources=doc_resources(path))
            (tmp / f"{name}.html").write_text(html, encoding="utf-8")
        home = jinja2.Environment(
            loader=jinja2.FileSystemLoader(SITE_SRC / "templates" / "course"), autoescape=True
        )
        site = {"name": NAME, "static": STATIC, "pipeline": "images/transformer_pipeline.png"}
        html = home.get_template("home.html.j2").render(site=site, pages=pages)
        (tmp / "index.html").write_text(html, encoding="utf-8")
    return pages


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder of the site (default: build/site)"
    )
    parser.add_argument(
        "--notebooks", type=Path, default=NOTEBOOKS, help="folder of the lesson notebooks"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        pages = build(args.out, args.notebooks)
    except SiteError as exc:
        print(f"make site: {exc}", file=sys.stderr)
        return 1
    index = args.out.resolve() / "index.html"
    print(
        f"{len(pages)} lesson pages in {time.perf_counter() - start:.1f} s: open {index.as_uri()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
