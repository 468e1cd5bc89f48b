"""Write what every lesson derives from the course itself: its badge and setup cells, its slides.

1. Each lesson marks two cells with the cell tags ``llmlab-badges`` and
   ``llmlab-setup``; this script rewrites their sources, so the repository URL
   lives in one place (``llmlab.course.REPO``).
2. Every cell gets its slideshow metadata (``cell.metadata.slideshow.slide_type``,
   read by RISE in JupyterLab and by ``make slides``) from one rule,
   :func:`slide_type`, never by hand:

   - the setup cell, the badge row and any cell tagged ``llmlab-no-slide`` (a helper
     the audience need not see): ``skip``;
   - a markdown cell that starts with a ``#`` or ``##`` heading (the title, a section): ``slide``;
   - a markdown cell that starts with a ``###`` heading, or comes right after a code
     cell (the next step of a section): ``subslide``, one screen below the last;
   - every other cell: ``-``, on the same screen as the cell before it.

   A section is then a column of screens, each an explanation, its code and what
   the code showed.

Run by ``make notebooks`` before it executes; on its own:

    python tools/sync_notebooks.py notebooks/03_attention.ipynb
    python tools/sync_notebooks.py            # every lesson
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from llmlab import course

#: Cells a slideshow leaves out (the Colab setup, the badge row, helpers tagged by the author).
SKIP_TAGS = {"llmlab-setup", "llmlab-badges", "llmlab-no-slide"}
SLIDE_HEADING = re.compile(r"#{1,2}\s")
SUBSLIDE_HEADING = re.compile(r"###\s")


def slide_type(cell, previous) -> str:
    """The slide type of ``cell`` by the rule above; ``previous`` is the last cell not skipped (or None)."""
    if SKIP_TAGS & set(cell.get("metadata", {}).get("tags", [])):
        return "skip"
    if cell.cell_type != "markdown":
        return "-"
    text = cell.source.lstrip()
    if SLIDE_HEADING.match(text):
        return "slide"
    if SUBSLIDE_HEADING.match(text) or (previous is not None and previous.cell_type == "code"):
        return "subslide"
    return "-"


def slide_types(nb) -> list[str]:
    """The slide type of every cell of ``nb``, in order."""
    types, previous = [], None
    for cell in nb.cells:
        types.append(slide_type(cell, previous))
        if types[-1] != "skip":
            previous = cell
    return types


def sync_slides(nb) -> bool:
    """Set every cell's ``metadata.slideshow.slide_type`` from :func:`slide_types`; True if one changed."""
    changed = False
    for cell, kind in zip(nb.cells, slide_types(nb), strict=True):
        if cell.metadata.get("slideshow") != {"slide_type": kind}:
            cell.metadata["slideshow"] = {"slide_type": kind}
            changed = True
    return changed


def sync(path: Path) -> bool:
    """Rewrite the tagged cells and the slide metadata of one notebook; True when something changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    tags = {t for cell in nb.cells for t in cell.get("metadata", {}).get("tags", [])}
    for missing in sorted({"llmlab-badges", "llmlab-setup"} - tags):
        print(
            f"warning: {path.name} has no cell tagged {missing!r}; see COMMON notebook layout",
            file=sys.stderr,
        )
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "llmlab-badges" in tags:
            new = course.badges_markdown(path.stem)
        elif "llmlab-setup" in tags:
            new = course.setup_cell_source()
        else:
            continue
        if cell.source != new:
            cell.source = new
            changed = True
    changed |= sync_slides(nb)
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    for p in paths:
        if sync(p):
            print(f"synced {p}")
