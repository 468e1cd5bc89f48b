"""The playground: a GPT checkpoint running in the reader's browser, with no kernel and no install.

The site's pages of lessons 03 and 04 link to it, for readers without a kernel.

``export_web(out_dir, checkpoint=None)`` writes a folder that opens from ``file://`` or any static host:

    playground.html              the page: prompt -> tokens, attention (heatmap, line view), next-token bars
    playground/playground.js     the GPT forward pass and the sampler, in plain JavaScript (no dependencies)
    playground/playground.css
    playground/model-weights.js  the checkpoint: config, characters and float32 weights (base64) in one global

Why a hand-written forward pass and not ONNX + onnxruntime-web: the course model is 0.82M parameters;
its whole forward pass is ~150 lines of JavaScript (``playground.js``, laid out like ``llmlab.gpt``)
and takes a few milliseconds for 128 tokens, while onnxruntime-web's wasm runtime is ~10 MB, needs an
npm build and cannot be fetched from ``file://``.  The weights are a ``.js`` file, not a binary fetched
with ``fetch()``, because Chromium refuses ``fetch()`` of local files on ``file://`` pages; a script tag
works everywhere.  They stay float32 (3.3 MB, 4.4 MB as base64), so the page computes with exactly the
weights PyTorch has and its logits match PyTorch's to ~1e-6 (``tests/test_playground.py`` checks 1e-4).

The page's sampler is ``llmlab.generation.sampling_probs`` ported line by line: temperature, then top-k,
then top-p.  Only char-level decoder checkpoints (``llmlab.gpt.GPT`` with a ``CharTokenizer``) can be
exported: a BPE tokenizer would need its merges ported to JavaScript too.

    python -m llmlab export-web --out my-playground/                      # the course model
    python -m llmlab export-web --checkpoint out/ --out my-playground/    # your own checkpoint
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from llmlab.errors import UsageError

#: The page's own files, shipped inside the package (``lib/llmlab/web``).
ASSETS = Path(__file__).resolve().parent / "web"
PAGE = "playground.html"
FOLDER = "playground"
WEIGHTS = "model-weights.js"
#: Every file export_web writes, relative to its ``out_dir``.
FILES = (PAGE, f"{FOLDER}/playground.js", f"{FOLDER}/playground.css", f"{FOLDER}/{WEIGHTS}")
FORMAT = "llmlab-web"
#: The global the weights file assigns, read by playground.js.
GLOBAL = "LLMLAB_MODEL"


def model_payload(checkpoint, name: str) -> dict:
    """A checkpoint -> the JSON-able dict ``model-weights.js`` holds.

    ``tensors``: ``[name, shape, offset]`` rows into ``data``, the base64 of all float32 weights
    (little-endian) one after another.  The tied ``lm_head.weight`` is stored once, as ``wte``.
    """
    from llmlab.gpt import GPT
    from llmlab.tokenizers import CharTokenizer

    model, tok = checkpoint.model, checkpoint.tokenizer
    if type(model) is not GPT:
        raise UsageError(
            f"only a llmlab GPT can run in the playground, this checkpoint holds a {type(model).__name__}."
        )
    if not isinstance(tok, CharTokenizer):
        raise UsageError(
            "the playground reads characters: export a checkpoint trained with --tokenizer char "
            f"(this one has a {type(tok).__name__})."
        )
    if not model.config.causal:
        raise UsageError(
            "the playground predicts the next character: this checkpoint is an encoder (causal=False)."
        )
    state = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}  # tied to wte
    rows, chunks, offset = [], [], 0
    for key, tensor in state.items():
        array = np.ascontiguousarray(tensor.detach().float().cpu().numpy(), dtype="<f4")
        rows.append([key, list(array.shape), offset])
        chunks.append(array.tobytes())
        offset += array.size
    return {
        "format": FORMAT,
        "version": 1,
        "name": name,
        "config": model.config.to_dict(),
        "chars": "".join(tok.chars),
        "tensors": rows,
        "floats": offset,
        "data": base64.b64encode(b"".join(chunks)).decode("ascii"),
    }


def weights_script(payload: dict) -> str:
    """The text of ``model-weights.js``: one assignment to ``window.LLMLAB_MODEL``."""
    return f"window.{GLOBAL} = {json.dumps(payload, ensure_ascii=True)};\n"


def page_html(name: str, home: str | None = None) -> str:
    """``playground.html`` with the model's name filled in; ``home``: a link back (the course site's index)."""
    html = (ASSETS / PAGE).read_text(encoding="utf-8")
    link = f'<a href="{home}">LLM Lab course</a> · ' if home else ""
    return html.replace("{{HOME}}", link).replace("{{NAME}}", _escape(name))


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _write_atomic(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def export_web(
    out_dir, checkpoint=None, *, force: bool = False, home: str | None = None
) -> list[Path]:
    """Write the playground for ``checkpoint`` (a folder; None: the course model) into ``out_dir``.

    Refuses (one-line :class:`UsageError`) to replace any of its files already there unless
    ``force``; every file is written to a temporary name and renamed into place.  Returns the paths.
    """
    from llmlab import training

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder: give a folder for the playground.")
    existing = [f for f in FILES if (out / f).exists()]
    if existing and not force:
        raise UsageError(
            f"{out} already holds {', '.join(existing)}; choose another folder or replace them with --force."
        )
    try:
        if checkpoint is None:
            ck, name = training.load_course_model(), "the course model (data/mini-gpt)"
        else:
            ck, name = (
                training.load_checkpoint(checkpoint),
                f"your checkpoint ({Path(checkpoint).name})",
            )
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    payload = model_payload(ck, name)
    texts = {
        PAGE: page_html(name, home),
        f"{FOLDER}/playground.js": (ASSETS / "playground.js").read_text(encoding="utf-8"),
        f"{FOLDER}/playground.css": (ASSETS / "playground.css").read_text(encoding="utf-8"),
        f"{FOLDER}/{WEIGHTS}": weights_script(payload),
    }
    try:
        for rel, text in texts.items():
            _write_atomic(out / rel, text)
    except OSError as e:
        raise UsageError(f"cannot write the playground into {out}: {e.strerror or e}") from None
    return [out / rel for rel in FILES]
