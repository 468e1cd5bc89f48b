"""Train a LLaMA-style model of the course model's size, beside the GPT-2-style one, and write data/mini-llama/.

    nice -n 5 python scripts/train_llama_model.py --threads 2

Both models (``llmlab.gpt.GPT`` with ``configs.COURSE_GPT``, ``llmlab.llama.Llama`` with the same
layers, heads and width) start from the same seed and see the same batches with the same recipe
(``configs.COURSE_TRAIN`` shortened to ``--max-iters`` steps), one after the other in this process,
so their loss against steps and against seconds compare. The LLaMA one is saved (safetensors and
config.json, with both runs' curves in ``meta``) for lesson 07; the GPT of this short run is not kept
(the shipped ``data/mini-gpt`` is the course's long-trained GPT). An existing folder is kept unless
``--overwrite`` is given (as in the other scripts/train_*.py).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import os
import platform
import sys
import time
from pathlib import Path

import torch

from llmlab import configs, data, gpt, llama, tokenizers, training
from llmlab.environment import cpu_name
from llmlab.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
NAME = "mini-llama"


def run(model, stream, cfg, label: str) -> dict:
    """Train ``model``; its evaluations, and the wall seconds at which each step ended."""
    seconds, start = [], time.perf_counter()

    def clock(step: int, loss: float) -> None:  # train() itself stops on a NaN/inf loss
        seconds.append(time.perf_counter() - start)

    print(f"training the {label}", flush=True)
    result = training.train(model, stream, cfg, callback=clock)
    return {
        "label": label,
        "params": sum(p.numel() for p in model.parameters()),
        "evals": result.evals,
        "step_seconds": [round(s, 3) for s in seconds],
        "result": result.summary(),
    }


def model_card(meta: dict) -> str:
    m, t = meta["model"], meta["train_config"]
    rows = "\n".join(
        f"| {r['label']} | {r['params']:,} | {r['result']['val_loss']:.4f} | {r['result']['wall_s']:.0f} s | "
        f"{r['result']['tokens_per_s']:,.0f} |"
        for r in meta["runs"]
    )
    return f"""# mini-llama: the course's LLaMA-style character model

`llmlab.llama.Llama` (RMSNorm, SwiGLU, RoPE, no biases, untied head) with the course GPT's shape:
{m["n_layer"]} layers x {m["n_head"]} heads ({m["n_kv_head"]} key/value heads), width {m["n_embd"]}, SwiGLU width
{m["d_ff"]}, context {m["block_size"]} characters, {meta["params"]:,} parameters. Trained on the course corpus
(`wiki-news`, first 90%) with the course recipe shortened to {t["max_iters"]} steps (batch {t["batch_size"]} x
{m["block_size"]}, AdamW lr {t["lr"]} with warm-up and cosine decay), seed {t["seed"]}. Lesson 07 quantizes it
and exports it to GGUF. `llmlab.llama.load_llama_checkpoint` loads it.

## Against a GPT-2-style model of the same shape, same recipe, same batches, same process

The GPT here is `llmlab.gpt.GPT` with the course model's shape (`configs.COURSE_GPT`), trained from
scratch in the same run for the same steps; it is not kept (the shipped `data/mini-gpt` is the
course's long-trained GPT).

| model | parameters | validation loss | wall time | training tokens/s |
|---|---|---|---|---|
{rows}

Hardware: {meta["hardware"]} (a machine shared with other jobs: the times are indicative).
File: `model.safetensors`, float16 (trained in float32, stored in half precision to keep the course's
data small; `load_llama_checkpoint` gives a float32 model), {meta["file_bytes"]:,} bytes, SHA-256 `{meta["sha256"][:16]}...`.

## Reproduce
```
{meta["command"]}
```

## Limitations
A tiny model trained for minutes: English-looking character soup, no facts. Only the
{m["vocab_size"]} characters of the corpus are known.
"""


def save(out: Path, model: llama.Llama, tok, meta: dict, overwrite: bool) -> None:
    """Write the checkpoint in float16 (half the bytes; the course's data budget is tight) with its card."""
    half = copy.deepcopy(model).half()
    meta = {**meta, "weights_dtype": "float16", "model": model.config.to_dict()}
    training.save_checkpoint(out, half, tok, meta, overwrite=overwrite)
    weights = (out / training.WEIGHTS_FILE).read_bytes()  # the card names the file's size and hash
    meta.update(file_bytes=len(weights), sha256=hashlib.sha256(weights).hexdigest())
    training.save_checkpoint(
        out, half, tok, meta, overwrite=True, files={"MODEL_CARD.md": model_card(meta)}
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(REPO / "data" / NAME))
    p.add_argument("--max-iters", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--overwrite", action="store_true", help="replace the checkpoint already in --out"
    )
    args = p.parse_args(argv)
    try:  # refuse a non-empty folder before training
        out = training.prepare_output_dir(args.out, args.overwrite, how_to_replace="--overwrite")
    except UsageError as e:
        raise SystemExit(f"train_llama_model.py: {e}") from None

    torch.set_num_threads(args.threads)
    text = data.load_text("wiki-news")
    tok = tokenizers.CharTokenizer.from_text(text)
    train_text, val_text = training.split_train_val(text)
    stream = training.TokenStream(
        tok.encode(train_text), tok.encode(val_text), configs.COURSE_GPT["block_size"]
    )
    cfg = dataclasses.replace(configs.COURSE_TRAIN, max_iters=args.max_iters, eval_interval=100)

    torch.manual_seed(cfg.seed)
    gpt_model = gpt.GPT(gpt.GPTConfig(vocab_size=tok.vocab_size, **configs.COURSE_GPT))
    torch.manual_seed(cfg.seed)
    llama_model = llama.Llama(llama.LlamaConfig(vocab_size=tok.vocab_size, **configs.COURSE_LLAMA))
    runs = [
        run(gpt_model, stream, cfg, "GPT-2 style (llmlab.gpt)"),
        run(llama_model, stream, cfg, "LLaMA style (llmlab.llama)"),
    ]

    kept = [
        a
        for a in (argv if argv is not None else sys.argv[1:])
        if a != "--overwrite" and not a.startswith("--out")
    ]
    meta = {
        "name": NAME,
        "corpus": "wiki-news",
        "train_config": cfg.to_dict(),
        "runs": runs,
        "params": runs[1]["params"],
        "command": "nice -n 5 python scripts/train_llama_model.py " + " ".join(kept),
        "hardware": f"{cpu_name()}, {os.cpu_count()} cores, {args.threads} torch thread(s)",
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    save(out, llama_model, tok, meta, overwrite=args.overwrite)
    for r in runs:
        print(r["label"], r["result"])


if __name__ == "__main__":
    main()
