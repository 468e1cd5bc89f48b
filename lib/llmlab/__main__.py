"""The command line: train a mini GPT on any UTF-8 text file, and sample from a checkpoint.

    python -m llmlab train --text input.txt --n-layer 4 --n-head 4 --n-embd 128 \\
        --block-size 64 --batch-size 12 --max-iters 2000 --lr 1e-3 --out out/ --seed 0
    python -m llmlab generate --checkpoint out/ --prompt "Once upon a time" \\
        --max-new-tokens 200 --temperature 0.8 --top-k 40 --seed 0

``train`` shows a progress bar, writes a checkpoint (``model.safetensors`` +
``config.json``) to ``--out`` and ends with one JSON line: ``val_loss``,
``train_loss``, ``tokens_per_s``, ``wall_s``, ``params``.  Every field of
``llmlab.training.TrainConfig`` has a flag.  Bad input (a missing file, an empty
text, a prompt with characters the model does not know) ends with a one-line
error and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

EXIT_USAGE = 2


class CLIError(Exception):
    """Bad input: reported as one line, exit code 2."""


def _add_train_config_flags(parser: argparse.ArgumentParser) -> None:
    from llmlab.training import TrainConfig

    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        default = getattr(defaults, f.name)
        flag, help_text = "--" + f.name.replace("_", "-"), f"TrainConfig.{f.name} (default: {default})"
        if isinstance(default, bool):  # --fused-optimizer / --no-fused-optimizer
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
            continue
        kind = type(default) if default is not None else int  # None only for lr_decay_iters
        parser.add_argument(flag, type=kind, default=default, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llmlab", description="LLM Lab: train and sample a mini GPT.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GPT on a UTF-8 text file", description="Train a GPT on a UTF-8 text file.")
    t.add_argument("--text", required=True, help="a UTF-8 text file to train on (last 10%% held out)")
    t.add_argument("--out", default=None, help="folder for the checkpoint (default: do not save)")
    t.add_argument("--n-layer", type=int, default=4)
    t.add_argument("--n-head", type=int, default=4)
    t.add_argument("--n-embd", type=int, default=128)
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--no-bias", action="store_true", help="no biases in Linear and LayerNorm layers")
    t.add_argument("--tokenizer", choices=["char", "bpe"], default="char")
    t.add_argument("--bpe-vocab-size", type=int, default=512, help="with --tokenizer bpe")
    t.add_argument("--val-fraction", type=float, default=0.1)
    t.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_train_config_flags(t)

    g = sub.add_parser("generate", help="sample text from a checkpoint", description="Sample text from a checkpoint.")
    g.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the course model)")
    g.add_argument("--prompt", default="\n", help="text to continue")
    g.add_argument("--max-new-tokens", type=int, default=200)
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-k", type=int, default=None)
    g.add_argument("--top-p", type=float, default=None)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--no-cache", action="store_true", help="generate without the KV cache")
    return parser


def _read_text(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"no such file: {path}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CLIError(f"{path} is not UTF-8 text (byte {e.start}: {e.reason}); convert it to UTF-8 first") from None
    if not text.strip():
        raise CLIError(f"{path} is empty; give a text file with some content to train on")
    return text


def cmd_train(args) -> dict:
    import torch

    from llmlab import training
    from llmlab.gpt import GPT, GPTConfig
    from llmlab.tokenizers import BPETokenizer, CharTokenizer

    text = _read_text(args.text)
    if args.threads:
        torch.set_num_threads(args.threads)
    fields = {f.name for f in dataclasses.fields(training.TrainConfig)}
    try:
        config = training.TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
        if args.tokenizer == "char":
            tok = CharTokenizer.from_text(text)
        else:
            tok = BPETokenizer.train(text, args.bpe_vocab_size)
        train_text, val_text = training.split_train_val(text, args.val_fraction)
        stream = training.TokenStream(tok.encode(train_text), tok.encode(val_text), config.block_size)
        torch.manual_seed(config.seed)
        model = GPT(GPTConfig(
            vocab_size=tok.vocab_size, block_size=config.block_size, n_layer=args.n_layer,
            n_head=args.n_head, n_embd=args.n_embd, dropout=args.dropout, bias=not args.no_bias,
        ))
    except ValueError as e:
        raise CLIError(str(e)) from None
    result = training.train(model, stream, config, show_progress=not args.quiet)
    params = sum(p.numel() for p in model.parameters())
    if args.out:
        meta = {"text": Path(args.text).name, "train_config": config.to_dict(), "result": result.summary()}
        training.save_checkpoint(args.out, model, tok, meta)
    return {
        "val_loss": round(result.final_val_loss, 4),
        "train_loss": round(result.final_train_loss, 4),
        "tokens_per_s": round(result.tokens_per_s, 1),
        "wall_s": round(result.wall_s, 2),
        "params": params,
        "steps": len(result.steps),
        "vocab_size": tok.vocab_size,
    }


def cmd_generate(args) -> str:
    import torch

    from llmlab import training
    from llmlab.tokenizers import UnknownCharacterError

    if args.max_new_tokens < 0:
        raise CLIError("--max-new-tokens must be >= 0")
    try:
        ck = training.load_course_model() if args.checkpoint is None else training.load_checkpoint(args.checkpoint)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None
    try:
        prompt_ids = ck.tokenizer.encode(args.prompt)
    except UnknownCharacterError as e:
        raise CLIError(f"the prompt cannot be encoded: {e}") from None
    if not prompt_ids:
        raise CLIError("the prompt is empty; give at least one character with --prompt")
    from llmlab import generation

    idx = torch.tensor([prompt_ids], dtype=torch.long)
    try:
        out = generation.generate(
            ck.model, idx, args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
            top_p=args.top_p, seed=args.seed, use_cache=not args.no_cache,
        )
    except ValueError as e:
        raise CLIError(str(e)) from None
    return ck.tokenizer.decode(out[0])  # the prompt followed by the new tokens


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            print(json.dumps(cmd_train(args)), flush=True)
        else:
            print(cmd_generate(args), flush=True)
    except CLIError as e:
        print(f"llmlab {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
