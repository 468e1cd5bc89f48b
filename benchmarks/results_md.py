"""Each benchmark owns a marked section of ``benchmarks/RESULTS.md``; this rewrites one section only.

    replace_section(path, "<!-- name -->", "<!-- /name -->", text)   # text includes both markers

The rest of the file is left as it is; the first time, the section is appended. The write is atomic
(a temporary file, then ``os.replace``), so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import os
from pathlib import Path


def replace_section(path: Path, begin: str, end: str, text: str) -> None:
    """Put ``text`` (which starts with ``begin`` and ends with ``end``) in place of that section of ``path``."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    head, found, rest = old.partition(begin)
    new = head + text + rest.partition(end + "\n")[2] if found else old.rstrip("\n") + "\n\n" + text
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, path)
