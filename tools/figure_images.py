"""Give every interactive figure of a notebook a static picture, for viewers that run no JavaScript.

GitHub's notebook view, nbviewer without JavaScript and any offline export show
a plotly figure only if its output carries an image.  For each plotly output
this draws a PNG from the figure's own JSON with plotly.js (the copy the plotly
package ships) in headless Chromium, stores it beside the JSON, and drops the
output's ``text/html`` part: viewers prefer HTML to PNG, and that HTML only
loads plotly.js from a CDN.  An ipywidgets view whose saved Output widgets hold
a plotly figure gets that figure's PNG too.  Notebook-wide plotly loader
outputs (a ``<script>`` that fetches plotly.js, left by older renderers) are
removed.  JupyterLab, VS Code and the course site still draw the interactive
figure from the JSON; nbval does not compare images (``image/png`` is in its
skip list unless ``--nbdime`` is given).

``make notebooks`` runs this on each notebook it executes (tools/execute_notebooks.py);
on its own it updates committed notebooks without executing them:

    python tools/figure_images.py notebooks/03_attention.ipynb
    python tools/figure_images.py            # every lesson
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import plotly

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser  # noqa: E402  (tools/browser.py, beside this file)

ROOT = Path(__file__).resolve().parents[1]
PLOTLY = "application/vnd.plotly.v1+json"
WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

#: plotly.js as the plotly package ships it (the same file the course site serves).
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

#: Size of a figure that does not set its own width or height (plotly's default height).
DEFAULT_WIDTH, DEFAULT_HEIGHT = 800, 450


def plotly_outputs(nb) -> list[tuple[int, dict]]:
    """Every (cell index, output) whose data holds a plotly figure."""
    return [
        (i, out)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if PLOTLY in out.get("data", {})
    ]


def widget_states(nb) -> dict:
    """The saved state of every widget model, keyed by model id ({} if none was saved)."""
    return nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def widget_outputs(states: dict, model_id: str, seen: set | None = None) -> list[dict]:
    """The outputs the Output widgets under ``model_id`` held when the notebook was saved, in order.

    Walks the model's children (``IPY_MODEL_<id>`` references) depth first.
    """
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in states:
        return []
    seen.add(model_id)
    model = states[model_id]
    found = (
        list(model["state"].get("outputs", [])) if model.get("model_name") == "OutputModel" else []
    )
    for child in model["state"].get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            found += widget_outputs(states, child.removeprefix("IPY_MODEL_"), seen)
    return found


def is_plotly_loader(out: dict) -> bool:
    """An output that only loads plotly.js from a CDN (plotly's "notebook_connected" renderer)."""
    html = out.get("data", {}).get("text/html", "")
    if isinstance(html, list):
        html = "".join(html)
    return (
        list(out.get("data", {})) == ["text/html"]
        and "cdn.plot.ly" in html
        and "plotly-graph-div" not in html
    )


def figure_size(figure: dict) -> tuple[int, int]:
    layout = figure.get("layout", {})
    return int(layout.get("width") or DEFAULT_WIDTH), int(layout.get("height") or DEFAULT_HEIGHT)


class Renderer:
    """Draws plotly figures to PNG in one headless Chromium page (no network, plotly.js inlined)."""

    def __init__(self, page):
        self.page = page
        page.set_content("<!DOCTYPE html><html><body style='margin:0'></body></html>")
        page.add_script_tag(content=PLOTLY_JS.read_text(encoding="utf-8"))

    def png(self, figure: dict, scale: float = 1.0) -> str:
        """The figure as a base64 PNG (no data: prefix), drawn at its own size."""
        width, height = figure_size(figure)
        url = self.page.evaluate(
            """async ([figure, width, height, scale]) => {
                const div = document.createElement('div');
                document.body.appendChild(div);
                try {
                    await Plotly.newPlot(div, figure.data || [], figure.layout || {}, {staticPlot: true});
                    return await Plotly.toImage(div, {format: 'png', width, height, scale});
                } finally {
                    Plotly.purge(div);
                    div.remove();
                }
            }""",
            [figure, width, height, scale],
        )
        prefix = "data:image/png;base64,"
        if not url.startswith(prefix):
            raise RuntimeError(f"plotly.js returned no PNG (got {url[:40]!r})")
        return url[len(prefix) :]


def add_images(nb, renderer: Renderer) -> int:
    """Add a PNG to every plotly output and widget view with a saved figure; returns how many were drawn."""
    drawn = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [out for out in cell.get("outputs", []) if not is_plotly_loader(out)]
        for out in cell.outputs:
            data = out.get("data", {})
            if PLOTLY in data:
                data.pop("text/html", None)
                data["image/png"] = renderer.png(data[PLOTLY])
                drawn += 1
            elif WIDGET in data:
                inner = widget_outputs(widget_states(nb), data[WIDGET]["model_id"])
                figures = [o["data"][PLOTLY] for o in inner if PLOTLY in o.get("data", {})]
                if figures:
                    data["image/png"] = renderer.png(figures[0])
                    drawn += 1
    return drawn


def process(paths: list[Path]) -> None:
    """Add static images to each notebook in ``paths`` and write it back in place."""
    with browser.chromium() as chrome:
        context, blocked = browser.open_context(chrome)
        renderer = Renderer(context.new_page())
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            drawn = add_images(nb, renderer)
            if blocked:
                raise RuntimeError(f"{path.name}: a figure asked the network for {blocked[0]}")
            tmp = path.with_suffix(".ipynb.tmp")
            nbformat.write(nb, tmp)
            tmp.replace(path)  # atomic: a crash never leaves half a notebook
            size = path.stat().st_size / 2**20
            print(
                f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {drawn} figure images, {size:.1f} MB"
            )
        context.close()


def main(argv: list[str]) -> int:
    paths = [Path(p).resolve() for p in argv] or sorted(
        (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        process(paths)
    except browser.BrowserMissing as exc:
        print(f"cannot draw figure images: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
