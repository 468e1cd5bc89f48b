"""Train the course's mini GPT on the embedded corpus and write data/mini-gpt/.

    python scripts/train_course_model.py --threads 2 --overwrite

Writes ``model.safetensors``, ``config.json`` (model config, tokenizer, training facts) and
``MODEL_CARD.md``, all three swapped into place together; an existing folder (the shipped
model) is replaced only with ``--overwrite``.  Deterministic: the same command on the same machine (same torch, same
thread count) gives the same weights.  The recipe is ``llmlab.configs.COURSE_GPT`` and
``COURSE_TRAIN``; flags override a few fields for quick runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

from llmlab import configs, data, gpt, model_card, tokenizers, training
from llmlab.errors import UsageError

REPO = Path(__file__).resolve().parents[1]


def card_text(meta: dict, placeholder: bool) -> str:
    m, t, s = meta["model"], meta["train_config"], meta["result"]
    evals = "\n".join(
        f"| {e['step']} | {e['train_loss']:.4f} | {e['val_loss']:.4f} |" for e in meta["evals"]
    )
    warning = (
        "\n> **Placeholder.** This checkpoint was trained only briefly so that the lessons can be "
        "developed against `load_course_model()`; it will be replaced by the full run.\n"
        if placeholder
        else ""
    )
    return f"""# mini-gpt: the course's pretrained character-level GPT
{warning}
A GPT-2-style decoder (`llmlab.gpt.GPT`) trained from scratch on the course's embedded corpus.
Lessons 02, 03 and 05 load it with `llmlab.training.load_course_model()`.

## Model
| | |
|---|---|
| architecture | GPT-2 style: learned positions, pre-LayerNorm blocks, causal self-attention, GELU MLP, tied embedding / output |
| layers x heads | {m["n_layer"]} x {m["n_head"]} |
| width (n_embd) | {m["n_embd"]} |
| context (block_size) | {m["block_size"]} characters |
| vocabulary | {m["vocab_size"]} characters (char-level `CharTokenizer`, stored in `config.json`) |
| parameters | {meta["params"]:,} (tied embedding counted once) |
| dropout, bias | {m["dropout"]}, {m["bias"]} |
| file | `model.safetensors`, float32, {meta["file_bytes"]:,} bytes, SHA-256 of its tensors `{meta["sha256"][:16]}...` (`llmlab.model_card.tensors_sha256`) |

## Data
`llmlab.data.load_text("wiki-news")`: {meta["corpus_chars"]:,} characters of English prose
(Wikipedia articles and Lee news stories from gensim's test data). The first 90%
({meta["train_chars"]:,} characters) is the training split, the last 10%
({meta["val_chars"]:,} characters) the held-out validation split.

## Training
| | |
|---|---|
| steps | {s["steps"]:,} |
| batch x context | {t["batch_size"]} x {m["block_size"]} = {t["batch_size"] * m["block_size"]:,} tokens per step |
| tokens seen | {s["tokens_seen"]:,} ({s["tokens_seen"] / meta["train_chars"]:.2f} passes over the training split) |
| optimizer | AdamW, betas ({t["beta1"]}, {t["beta2"]}), weight decay {t["weight_decay"]} on 2-D weights |
| learning rate | linear warm-up over {t["warmup_iters"]} steps to {t["lr"]}, cosine decay to {t["min_lr"]} |
| gradient clipping | {t["grad_clip"]} |
| seed | {t["seed"]} |
| final train loss | {s["train_loss"]:.4f} nats/char (mean of {t["eval_iters"]} batches) |
| final validation loss | {s["val_loss"]:.4f} nats/char (mean of {t["eval_iters"]} batches) |
| wall time | {s["wall_s"] / 60:.1f} min ({s["wall_s"]:.0f} s), process CPU time {s["cpu_s"]:.0f} s |
| hardware | {meta["hardware"]} |
| software | Python {meta["python"]}, torch {meta["torch"]} |

Loss during training (mean cross-entropy over {t["eval_iters"]} batches of each split):

| step | train loss | validation loss |
|---|---|---|
{evals}

{meta.get("wall_note", "")}
## Reproduce
```
{meta["command"]}
```
{"(`--placeholder-at N` only saves an early snapshot on the way; it does not change the weights.)" + chr(10) if "--placeholder-at" in meta["command"] else ""}Same command, same machine, same torch version and thread count -> the same weights
(check the tensors' SHA-256 above; the file's own bytes may differ, since safetensors
may order its header metadata differently from one save to the next). Another CPU, thread count or torch version gives a slightly
different model of the same quality.

## Limitations
- A tiny model ({meta["params"] / 1e6:.1f} M parameters) trained for {s["wall_s"] / 60:.0f} minutes: it writes
  English-looking text with common words and punctuation in the right places, but some of its
  longer words are invented and it states no coherent facts. Do not rely on anything it says.
- Character-level: a prompt may only use the {m["vocab_size"]} characters of the corpus
  (ASCII letters, digits, punctuation, space and newline); others raise an error that names them.
- Trained on Wikipedia and news text from the 2000s-2010s, with their biases.
- Context of {m["block_size"]} characters: it cannot use anything earlier.
"""


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(REPO / "data" / training.COURSE_MODEL))
    p.add_argument(
        "--overwrite", action="store_true", help="replace the checkpoint already in --out"
    )
    p.add_argument("--max-iters", type=int, default=configs.COURSE_TRAIN.max_iters)
    p.add_argument("--seed", type=int, default=configs.COURSE_TRAIN.seed)
    p.add_argument(
        "--threads", type=int, default=2, help="torch threads (default 2, as in the lessons)"
    )
    p.add_argument(
        "--wall-note",
        default="",
        help="a sentence for the model card about the wall time (e.g. a shared machine)",
    )
    p.add_argument(
        "--placeholder", action="store_true", help="mark the model card as a placeholder"
    )
    p.add_argument(
        "--placeholder-at",
        type=int,
        default=0,
        help="also write the weights after this many steps as a placeholder checkpoint (0: no)",
    )
    args = p.parse_args(argv)
    try:  # before 20 minutes of training
        out = training.prepare_output_dir(args.out, args.overwrite, how_to_replace="--overwrite")
    except UsageError as e:
        raise SystemExit(f"train_course_model.py: {e}") from None

    torch.set_num_threads(args.threads)
    text = data.load_text("wiki-news")
    tok = tokenizers.CharTokenizer.from_text(text)
    train_text, val_text = training.split_train_val(text)
    stream = training.TokenStream(
        tok.encode(train_text), tok.encode(val_text), configs.COURSE_GPT["block_size"]
    )
    cfg = dataclasses.replace(configs.COURSE_TRAIN, max_iters=args.max_iters, seed=args.seed)

    torch.manual_seed(args.seed)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=tok.vocab_size, **configs.COURSE_GPT))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    def save_placeholder(step: int, loss: float) -> None:
        # An early snapshot the lessons can develop against while the full run goes on.
        if step + 1 != args.placeholder_at:
            return
        note = {"name": "mini-gpt", "placeholder": True, "steps": step + 1, "last_batch_loss": loss}
        card = (
            "# mini-gpt (placeholder)\n\nA snapshot of the course model after "
            f"{step + 1} of {cfg.max_iters} training steps (last batch loss {loss:.3f}), written so that "
            "the lessons can be developed against `load_course_model()` while the full run goes on. "
            "It will be replaced by the full run and its model card.\n"
        )
        training.save_checkpoint(
            out, model, tok, note, overwrite=True, files={"MODEL_CARD.md": card}
        )
        print(f"\nplaceholder written after {step + 1} steps", flush=True)

    result = training.train(
        model, stream, cfg, callback=save_placeholder if args.placeholder_at else None
    )

    command = model_card.recorded_command(
        "scripts/train_course_model.py", argv if argv is not None else sys.argv[1:]
    )
    meta = {
        "name": "mini-gpt",
        "placeholder": args.placeholder,
        "corpus": "wiki-news",
        "corpus_chars": len(text),
        "train_chars": len(train_text),
        "val_chars": len(val_text),
        "train_config": cfg.to_dict(),
        "result": result.summary(),
        "evals": result.evals,
        "params": sum(p.numel() for p in model.parameters()),
        "command": command,
        "started": started,
        "wall_note": args.wall_note,
        **model_card.machine(args.threads),
    }
    meta["model"] = model.config.to_dict()
    model_card.save_recorded_run(out, model, tok, meta, lambda m: card_text(m, args.placeholder))
    print(result.summary())


if __name__ == "__main__":
    main()
