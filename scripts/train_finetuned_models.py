"""Fine-tune the course model on lesson 05's instructions and write data/sft-full, sft-mixed, sft-lora.

    python scripts/train_finetuned_models.py --threads 2

Three runs from the course model (``data/mini-gpt``), each with the recipe in
``llmlab.finetuning.RECIPES``:

* ``full``: full fine-tuning (every weight), written as a whole checkpoint;
* ``mixed``: the same, with one window of pre-training text in every batch (forgets less);
* ``lora``: LoRA adapters on every linear layer, twice the steps; only the adapters are written.

Each folder gets the weights, ``config.json``, ``train_log.json`` (the loss curves) and
``MODEL_CARD.md`` (command, seed, curves, measured time).  Deterministic: the same command
on the same machine (same torch, same thread count) gives the same bytes; the card's
SHA-256 checks a rebuild.  An existing folder is only replaced with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from llmlab import data, finetuning, lora, model_card, training
from llmlab.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "scripts/train_finetuned_models.py"

WHAT = {
    "full": "full fine-tuning: every weight of the course model trained on the instructions",
    "mixed": (
        "full fine-tuning with one window of pre-training text (the course corpus' training split) "
        "added to every batch of 16 instructions, so the model keeps practising prose"
    ),
    "lora": "LoRA adapters on every linear layer of the frozen course model; only the adapters are stored",
}


def card(name: str, meta: dict) -> str:
    t, s, lo = meta["train_config"], meta["result"], meta.get("lora")
    trainable = (
        f"{meta['params_trainable']:,} of {meta['params_base']:,} (the adapters; the base stays frozen)"
        if lo
        else f"all {meta['params_trainable']:,}"
    )
    lora_rows = (
        f"| LoRA | rank r = {lo['r']}, alpha = {lo['alpha']:g}, on {', '.join(lo['targets'])} in every block |\n"
        if lo
        else ""
    )
    prose_row = (
        f"| pre-training text | {meta['prose_rows']} window(s) of the corpus' training split per batch, "
        "every position a target |\n"
        if meta["prose_rows"]
        else ""
    )
    train_note = (
        "; the train loss also counts the prose window's characters" if meta["prose_rows"] else ""
    )
    files = (
        '`adapters.safetensors` (apply to `data/mini-gpt` with `llmlab.finetuning.load_shipped("lora")`)'
        if lo
        else '`model.safetensors` (a whole model: `llmlab.finetuning.load_shipped("' + name + '")`)'
    )
    return f"""# {finetuning.SHIPPED[name]}: lesson 05's {name} fine-tuning run

{WHAT[name][0].upper() + WHAT[name][1:]}. Lesson 05 loads it and evaluates it itself
(held-out exact match, loss on held-out prose); nothing below is copied into the lesson.

## Run
| | |
|---|---|
| base model | `data/mini-gpt` (SHA-256 of its tensors `{meta["base_sha256"][:16]}...`) |
| data | `llmlab.finetuning.make_instruction_data(seed={meta["data_seed"]})`: {meta["n_train"]:,} training examples (the {meta["n_held_out"]} held-out ones are the validation set) |
| loss | on the response characters only (prompt targets -100) |
{lora_rows}{prose_row}| trainable parameters | {trainable} |
| steps | {s["steps"]:,} of {t["batch_size"]} examples |
| optimizer | AdamW, betas ({t["beta1"]}, {t["beta2"]}), weight decay {t["weight_decay"]}, {"fused" if t["fused_optimizer"] else "foreach"} kernel |
| learning rate | linear warm-up over {t["warmup_iters"]} steps to {t["lr"]}, cosine decay to {t["min_lr"]} |
| gradient clipping | {t["grad_clip"]} |
| seed | {t["seed"]} (batches{"; also the adapters’ random initialisation" if lo else ""}) |
| final train / validation loss | {s["train_loss"]:.4f} / {s["val_loss"]:.4f} nats per predicted character (mean of {t["eval_iters"]} batches){train_note} |
| wall time | {s["wall_s"]:.0f} s ({s["wall_s"] / 60:.1f} min), process CPU time {s["cpu_s"]:.0f} s |
| hardware | {meta["hardware"]} |
| software | Python {meta["python"]}, torch {meta["torch"]} |
| file | {files}, float32, {meta["file_bytes"]:,} bytes, SHA-256 of its tensors `{meta["sha256"][:16]}...` (`llmlab.model_card.tensors_sha256`) |

Loss during training (validation = the held-out instructions, response characters only{train_note}):

{model_card.loss_table(meta["evals"])}

Every step's batch loss is in `train_log.json`.

## Reproduce
```
{meta["command"]}
```
Same command, same machine, same torch version and thread count -> the same weights, bit for
bit (check the tensors' SHA-256 above; the file's own hash can differ, as safetensors may order
its header metadata differently on each save). Another CPU, thread count or torch version gives a slightly different
model of the same quality.

## Limitations
- Four toy tasks (upper case, reversal, word patterns, country capitals) on a 0.8 M-parameter
  character model: a teaching artefact, not an assistant.
- Fine-tuning on instructions costs the model much of its prose (lesson 05 measures how much).
"""


def build(
    name: str,
    base_dir: Path,
    out: Path,
    argv: list[str],
    threads: int,
    max_iters: int | None,
    inputs: tuple,
) -> dict:
    """Train one recipe from the checkpoint in ``base_dir`` and write it to ``out``; returns its meta.

    ``inputs`` is ``(base model, tokenizer, instruction data, corpus training ids)`` (see :func:`load_inputs`).
    """
    recipe = finetuning.RECIPES[name]
    base, tok, instructions, corpus_train = inputs
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    model, result = finetuning.run_recipe(
        name, base, instructions, tok, corpus_train, max_iters=max_iters
    )
    meta = {
        "name": finetuning.SHIPPED[name],
        "recipe": name,
        "base": base_dir.name,
        "base_sha256": model_card.file_facts(base_dir / training.WEIGHTS_FILE)["sha256"],
        "data_seed": instructions.seed,
        "n_train": len(instructions.train),
        "n_held_out": len(instructions.held_out),
        "prose_rows": recipe["prose_rows"],
        "lora": recipe["lora"],
        "init_seed": recipe["train"].seed,
        "train_config": result.config,
        "result": result.summary(),
        "evals": result.evals,
        "params_base": lora.count_total(base),
        "params_trainable": lora.count_trainable(model),
        "command": model_card.recorded_command(SCRIPT, argv),
        "started": started,
        **model_card.machine(threads),
    }
    if recipe["lora"]:
        weights = out / finetuning.ADAPTERS_FILE
        finetuning.save_lora_adapters(out, model, recipe["lora"], meta)
        meta.update(model_card.file_facts(weights))
        finetuning.save_lora_adapters(
            out, model, recipe["lora"], meta
        )  # again, now with the file facts
        model_card.write_json_atomic(out / model_card.TRAIN_LOG, model_card.train_log(result))
        model_card.write_atomic(out / model_card.MODEL_CARD, card(name, meta))
    else:
        model_card.save_recorded_run(
            out, model, tok, meta, lambda m, name=name: card(name, m), result
        )
    print(f"{name}: {result.summary()} -> {out}", flush=True)
    return meta


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--only",
        default=",".join(finetuning.RECIPES),
        help=f"comma-separated runs to build (default: all of {', '.join(finetuning.RECIPES)})",
    )
    p.add_argument(
        "--base",
        default=str(REPO / "data" / training.COURSE_MODEL),
        help="the pretrained checkpoint folder",
    )
    p.add_argument(
        "--out-dir", default=str(REPO / "data"), help="where the run folders go (default data/)"
    )
    p.add_argument(
        "--max-iters",
        type=int,
        default=None,
        help="override the recipes' step counts (quick checks only)",
    )
    p.add_argument(
        "--threads", type=int, default=2, help="torch threads (default 2, as in the lessons)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing run folders")
    args = p.parse_args(argv)

    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in finetuning.RECIPES]
    if unknown:
        p.error(f"unknown run(s) {', '.join(unknown)}; choose from {', '.join(finetuning.RECIPES)}")
    outs = {n: Path(args.out_dir) / finetuning.SHIPPED[n] for n in names}
    try:
        for out in outs.values():  # check them all before training anything
            training.prepare_output_dir(out, args.overwrite, how_to_replace="--overwrite")
    except UsageError as e:
        raise SystemExit(str(e)) from None
    torch.set_num_threads(args.threads)
    inputs = load_inputs(Path(args.base))
    for name in names:
        build(name, Path(args.base), outs[name], argv, args.threads, args.max_iters, inputs)


def load_inputs(base_dir: Path) -> tuple:
    """The pretrained model and tokenizer in ``base_dir``, lesson 05's instructions and the corpus' training ids."""
    base_ckpt = training.load_checkpoint(base_dir)
    instructions = finetuning.make_instruction_data(seed=0)
    corpus_train, _ = training.split_train_val(
        base_ckpt.tokenizer.encode(data.load_text("wiki-news"))
    )
    return base_ckpt.model, base_ckpt.tokenizer, instructions, corpus_train


if __name__ == "__main__":
    main()
