"""Model cards for the checkpoints the course ships: how a run was made, and what it measured.

Lessons 00, 02-05 and 07 load the shipped checkpoints these cards describe; lesson 06 writes
the train log of its own runs with :func:`train_log`.

A shipped checkpoint is a *recorded run*: the scripts in ``scripts/`` train it and
write, next to the weights, a ``MODEL_CARD.md`` a person reads and a
``train_log.json`` a lesson reads (the loss curve it draws).  The pieces every such
script needs are here, written once:

* :func:`recorded_command`: the command line that rebuilds the run, without the
  options that only say where files go (``--out``, ``--out-dir``, ``--overwrite``);
* :func:`machine`: the CPU, thread count, Python and torch versions: the weights are
  bit-for-bit the same only on the same machine, thread count and torch version;
* :func:`file_facts`: size and SHA-256 of a weights file's tensors, to check a rebuild against;
* :func:`loss_table`: the evaluations of a run as a markdown table;
* :func:`train_log`: a :class:`llmlab.training.TrainResult` as JSON-ready curves;
* :func:`write_atomic`: a run never half-writes a file (a script checks its output
  folders first with ``llmlab.training.prepare_output_dir``, so nothing is replaced unasked).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
from collections.abc import Sequence
from pathlib import Path

import torch

from llmlab.environment import cpu_name

#: Options that only say where the outputs go: not part of the recipe, left out of the recorded command.
_WHERE_OPTIONS = ("--out", "--out-dir")
_FLAGS_NOT_RECORDED = ("--overwrite",)

#: The JSON file with a run's curves, next to the weights.
TRAIN_LOG = "train_log.json"
MODEL_CARD = "MODEL_CARD.md"


def recorded_command(script: str, argv: Sequence[str]) -> str:
    """``python <script> <argv>`` without ``--out``/``--out-dir`` (and their values) and ``--overwrite``."""
    given, kept = list(argv), []
    while given:
        a = given.pop(0)
        if a in _WHERE_OPTIONS:
            if given:
                given.pop(0)
        elif a.startswith(tuple(o + "=" for o in _WHERE_OPTIONS)) or a in _FLAGS_NOT_RECORDED:
            continue
        else:
            kept.append(a)
    return " ".join(["python", script, *(shlex.quote(a) for a in kept)])


def machine(threads: int) -> dict[str, str]:
    """Where a run ran: ``hardware`` (CPU, cores, torch threads), ``python``, ``torch``."""
    return {
        "hardware": f"{cpu_name()}, {os.cpu_count()} cores, {threads} torch thread(s)",
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def file_facts(path) -> dict[str, object]:
    """``{"file_bytes", "sha256"}`` of a safetensors file; ``sha256`` is :func:`tensors_sha256`'s."""
    return {"file_bytes": Path(path).stat().st_size, "sha256": tensors_sha256(path)}


def tensors_sha256(path) -> str:
    """SHA-256 of the tensors in a safetensors file: each name, dtype, shape and its bytes, in name order.

    Not the hash of the file: safetensors writes the header's ``__metadata__`` from a hash
    map, so with two or more metadata entries (``save_checkpoint`` stores the format and the
    tied-weight alias) their order, and the file's bytes, can change from one save of the same
    weights to the next.  The tensors themselves are what a rebuild must reproduce bit for bit.
    """
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{Path(path).name} is not a safetensors file (too short).")
    n = int.from_bytes(raw[:8], "little")
    try:
        header = json.loads(raw[8 : 8 + n])
    except ValueError as exc:
        raise ValueError(
            f"{Path(path).name} is not a safetensors file (unreadable header)."
        ) from exc
    data = memoryview(raw)[8 + n :]
    h = hashlib.sha256()
    for name in sorted(k for k in header if k != "__metadata__"):
        t = header[name]
        start, end = t["data_offsets"]
        h.update(f"{name}|{t['dtype']}|{t['shape']}|".encode())
        h.update(data[start:end])
    return h.hexdigest()


def loss_table(evals: Sequence[dict], val_label: str = "validation loss") -> str:
    """Markdown table of a run's evaluations (``{"step", "train_loss", "val_loss"}`` rows)."""
    rows = [f"| step | train loss | {val_label} |", "|---|---|---|"]
    rows += [f"| {e['step']} | {e['train_loss']:.4f} | {e['val_loss']:.4f} |" for e in evals]
    return "\n".join(rows)


def train_log(result) -> dict[str, object]:
    """A run's curves, JSON-ready: every step's batch loss (rounded to 1e-4) and the evaluations."""
    return {
        "summary": result.summary(),
        "evals": result.evals,
        "train_losses": [round(x, 4) for x in result.train_losses],
        "config": result.config,
    }


def read_train_log(directory) -> dict:
    """The ``train_log.json`` of a shipped run (what :func:`train_log` wrote)."""
    path = Path(directory) / TRAIN_LOG
    if not path.is_file():
        raise FileNotFoundError(
            f"No {TRAIN_LOG} in {Path(directory).name!r}: the scripts in scripts/ write one with each checkpoint."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def save_recorded_run(out, model, tokenizer, meta: dict, card, result=None) -> Path:
    """Save a script's checkpoint with its model card (and ``train_log.json`` when ``result`` is given).

    Saved twice: the first save writes the weights, whose tensor hash (:func:`file_facts`) then
    goes into ``meta`` and the card (``card(meta) -> str``) of the second.  ``out`` was checked
    before training (``llmlab.training.prepare_output_dir``), so replacing it here is intended.
    """
    from llmlab.training import WEIGHTS_FILE, save_checkpoint

    save_checkpoint(out, model, tokenizer, meta, overwrite=True)
    meta.update(file_facts(Path(out) / WEIGHTS_FILE))
    files = {MODEL_CARD: card(meta)}
    if result is not None:
        files[TRAIN_LOG] = json.dumps(train_log(result), indent=1) + "\n"
    return save_checkpoint(out, model, tokenizer, meta, overwrite=True, files=files)


def write_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file, so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_json_atomic(path, obj) -> Path:
    return write_atomic(path, json.dumps(obj, indent=1, ensure_ascii=False) + "\n")
