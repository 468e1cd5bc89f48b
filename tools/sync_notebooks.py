"""Write the badge cell and the Colab setup cell of every lesson from llmlab.course.

Each lesson marks those two cells with the cell tags ``llmlab-badges`` and
``llmlab-setup``; this script rewrites their sources, so the repository URL
lives in one place (``llmlab.course.REPO``).  Run by ``make notebooks``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from llmlab import course


def sync(path: Path) -> bool:
    """Rewrite the tagged cells of one notebook; True when something changed."""
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
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    for p in paths:
        if sync(p):
            print(f"synced {p}")
