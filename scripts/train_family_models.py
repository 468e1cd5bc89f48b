"""Train lesson 06's tiny encoder (masked LM) and tiny decoder (causal LM) and write data/family-*.

    python scripts/train_family_models.py --threads 2

Two models of the same shape and the same initial weights (``llmlab.objectives.family_pair``),
trained on the same corpus with the same loop, one as a BERT-style encoder on 40%-masked
16-character windows, one as a GPT-style decoder on next-character prediction.  Each folder
gets ``model.safetensors``, ``config.json`` (with the ``[MASK]`` id), ``train_log.json`` (the
loss curves) and ``MODEL_CARD.md`` (command, seed, curves, measured time).  Deterministic on
the same machine, thread count and torch version; an existing folder is only replaced with
``--overwrite``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from llmlab import data, model_card, objectives, tokenizers, training
from llmlab.errors import UsageError
from llmlab.gpt import count_parameters

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "scripts/train_family_models.py"

WHAT = {
    "encoder": (
        "a BERT-style encoder: no causal mask, trained to guess the chosen characters of a window "
        "(BERT's 80/10/10 corruption) from both sides"
    ),
    "decoder": "a GPT-style decoder: causal mask, trained to predict the next character from the left",
}


def card(name: str, meta: dict) -> str:
    t, s, m = meta["train_config"], meta["result"], meta["model"]
    objective = (
        f"masked LM, {meta['mlm_rate']:.0%} of the characters chosen, loss over the chosen ones"
        if name == "encoder"
        else "next-character prediction, loss over every position"
    )
    return f"""# {objectives.FAMILY_SHIPPED[name]}: lesson 06's tiny {name}

{WHAT[name][0].upper() + WHAT[name][1:]}. Lesson 06 loads it next to its twin
(`data/{objectives.FAMILY_SHIPPED["decoder" if name == "encoder" else "encoder"]}`) and measures both on the
same held-out text; nothing below is copied into the lesson.

## Model and run
| | |
|---|---|
| shape | {m["n_layer"]} blocks x {m["n_head"]} heads, width {m["n_embd"]}, {m["block_size"]}-character windows, causal = {m["causal"]} |
| vocabulary | {m["vocab_size"]}: the corpus' {m["vocab_size"] - 1} characters plus `[MASK]` (id {meta["mask_id"]}) |
| parameters | {meta["params"]:,}; initial weights identical to its twin's (seed {meta["init_seed"]}) |
| data | `llmlab.data.load_text("wiki-news")`, first 90% for training, last 10% held out |
| objective | {objective} |
| steps | {s["steps"]:,} of {t["batch_size"]} windows |
| optimizer | AdamW, betas ({t["beta1"]}, {t["beta2"]}), weight decay {t["weight_decay"]}, {"fused" if t["fused_optimizer"] else "foreach"} kernel |
| learning rate | linear warm-up over {t["warmup_iters"]} steps to {t["lr"]}, cosine decay to {t["min_lr"]} |
| seed | {t["seed"]} (batches and masking) |
| final train / validation loss | {s["train_loss"]:.4f} / {s["val_loss"]:.4f} nats per predicted character (mean of {t["eval_iters"]} batches) |
| wall time | {s["wall_s"]:.0f} s ({s["wall_s"] / 60:.1f} min), process CPU time {s["cpu_s"]:.0f} s |
| hardware | {meta["hardware"]} |
| software | Python {meta["python"]}, torch {meta["torch"]} |
| file | `model.safetensors`, float32, {meta["file_bytes"]:,} bytes, SHA-256 of its tensors `{meta["sha256"][:16]}...` (`llmlab.model_card.tensors_sha256`) |

Loss during training (mean over {t["eval_iters"]} batches of each split; the encoder's over the chosen characters only,
so the two models' losses are not comparable):

{model_card.loss_table(meta["evals"])}

Every step's batch loss is in `train_log.json`.

## Reproduce
```
{meta["command"]}
```
Same command, same machine, same torch version and thread count -> the same weights, bit for bit
(check the tensors' SHA-256 above; the file's own hash can differ, as safetensors may order its
header metadata differently on each save).

## Limitations
- 0.1 M parameters and 16 characters of context: it spells, it does not know anything.
"""


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--out-dir", default=str(REPO / "data"), help="where the two folders go (default data/)"
    )
    p.add_argument(
        "--max-iters", type=int, default=3000, help="training steps of each model (default 3000)"
    )
    p.add_argument("--seed", type=int, default=0, help="initial weights of both models")
    p.add_argument(
        "--threads", type=int, default=2, help="torch threads (default 2, as in the lessons)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing folders")
    args = p.parse_args(argv)

    outs = {n: Path(args.out_dir) / d for n, d in objectives.FAMILY_SHIPPED.items()}
    try:
        for out in outs.values():  # check both before training anything
            training.prepare_output_dir(out, args.overwrite, how_to_replace="--overwrite")
    except UsageError as e:
        raise SystemExit(str(e)) from None
    torch.set_num_threads(args.threads)

    text = data.load_text("wiki-news")
    tok = tokenizers.CharTokenizer.from_text(text)
    mask_id, vocab = (
        tok.vocab_size,
        tok.vocab_size + 1,
    )  # one extra id for [MASK], after the characters
    train_ids, val_ids = training.split_train_val(torch.tensor(tok.encode(text)))
    models = dict(
        zip(("encoder", "decoder"), objectives.family_pair(vocab, seed=args.seed), strict=True)
    )
    batches = objectives.family_batches(train_ids, val_ids, mask_id, vocab)
    config = objectives.family_train_config(args.max_iters)
    for name, model in models.items():
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        result = training.train(model, batches[name], config)
        meta = {
            "name": objectives.FAMILY_SHIPPED[name],
            "role": name,
            "mask_id": mask_id,
            "mlm_rate": objectives.FAMILY_MLM_RATE if name == "encoder" else None,
            "init_seed": args.seed,
            "train_config": config.to_dict(),
            "result": result.summary(),
            "evals": result.evals,
            "params": count_parameters(model)["total"],
            "model": model.config.to_dict(),
            "command": model_card.recorded_command(SCRIPT, argv),
            "started": started,
            **model_card.machine(args.threads),
        }
        out = outs[name]
        model_card.save_recorded_run(
            out, model, tok, meta, lambda m, name=name: card(name, m), result
        )
        print(f"{name}: {result.summary()} -> {out}", flush=True)


if __name__ == "__main__":
    main()
