"""The command line: train a mini GPT on any UTF-8 text file, and sample from a checkpoint.

Lesson 04 builds the model it trains; lesson 08 runs it under torchrun; the README shows both.

    python -m llmlab train --text input.txt --n-layer 4 --n-head 4 --n-embd 128 \\
        --block-size 64 --batch-size 12 --max-iters 2000 --lr 1e-3 --out out/ --seed 0
    python -m llmlab generate --checkpoint out/ --prompt "Once upon a time" \\
        --max-new-tokens 200 --temperature 0.8 --top-k 40 --seed 0
    python -m llmlab export-web --checkpoint out/ --out my-playground/

``train`` shows a progress bar, checks ``--out`` before it starts (a non-empty folder
is refused unless ``--force``), saves a checkpoint (``model.safetensors``,
``config.json``, ``MODEL_CARD.md``, swapped into place whole) at every evaluation and
ends with one JSON line: ``val_loss``, ``train_loss``, ``tokens_per_s``, ``wall_s``,
``params``.  Every field of ``llmlab.training.TrainConfig`` has a flag.

Every failure ends with one line on stderr, never a traceback:

* bad input (a missing file, an empty text, a prompt with characters the model does
  not know, a flag out of range, a damaged checkpoint): exit code 2;
* a loss that became NaN or infinite: exit code 3, with the step and what to change;
* under ``torchrun``, a process that never joined or that stopped: exit code 4;
* Ctrl-C: exit code 130, with the step reached and where the last checkpoint is.

Under ``torchrun --nproc_per_node=N -m llmlab train ...`` the N processes train one
model with data parallelism (``llmlab.distributed``): ``--batch-size`` is the global
batch, shared equally; only process 0 evaluates, prints and writes the checkpoint.

torch is imported only once a command runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_PEER = 4  # torchrun: another process never joined or stopped
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C

#: Worked examples shown by --help: (what it does, the command), per command.
EXAMPLES = {
    "train": [
        (
            "a small model on your text, checkpoint in out/ (about 2.5 minutes on 2 CPU cores)",
            "python -m llmlab train --text input.txt --max-iters 2000 --out out/",
        ),
        (
            "BPE tokens, a wider model, 4 threads; --force replaces the checkpoint already in out/",
            "python -m llmlab train --text input.txt --tokenizer bpe --bpe-vocab-size 512 \\\n"
            "      --n-embd 192 --n-head 6 --threads 4 --out out/ --force",
        ),
    ],
    "generate": [
        (
            "200 characters from the course model, the same text for the same --seed",
            'python -m llmlab generate --prompt "The history of " --max-new-tokens 200 --seed 0',
        ),
        (
            "from your checkpoint: less random (temperature 0.8), only the 40 most likely tokens",
            'python -m llmlab generate --checkpoint out/ --prompt "Once upon a time" --temperature 0.8 --top-k 40',
        ),
    ],
    "export-web": [
        (
            "the course model's playground, as on the course site",
            "python -m llmlab export-web --out playground-site/",
        ),
        (
            "your checkpoint in the browser playground: open my-playground/playground.html (no server needed)",
            "python -m llmlab export-web --checkpoint out/ --out my-playground/",
        ),
    ],
}


def _examples(*pairs) -> str:
    return "examples:\n" + "".join(f"  # {what}\n  {command}\n" for what, command in pairs)


class CLIError(Exception):
    """Bad input: reported as one line, exit code 2."""


class _Help(argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default (a flag without one says in its help what happens), and the examples as written."""

    def _get_help_string(self, action):
        if (
            action.default is None
            or action.default is False
            or action.default == argparse.SUPPRESS
            or "default" in (action.help or "")
        ):
            return action.help
        return f"{action.help} (default: %(default)s)"


def _command(sub, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    """A subcommand: ``summary`` in the list of commands, ``description`` and ``EXAMPLES[name]`` in its --help."""
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=_Help,
        epilog=_examples(*EXAMPLES[name]),
    )


def _add_train_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, its help line the field's meaning (needs torch: imports training)."""
    from llmlab.training import TrainConfig

    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        default = getattr(defaults, f.name)
        flag, help_text = "--" + f.name.replace("_", "-"), f.metadata.get("help", f.name)
        if isinstance(default, bool):  # --fused-optimizer / --no-fused-optimizer
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=help_text
            )
            continue
        kind = type(default) if default is not None else int  # None only for lr_decay_iters
        parser.add_argument(flag, type=kind, default=default, help=help_text)


def build_parser(train_flags: bool = True) -> argparse.ArgumentParser:
    """The argument parser; ``train_flags=False`` leaves out the TrainConfig flags (which import torch)."""
    parser = argparse.ArgumentParser(
        prog="python -m llmlab",
        description="LLM Lab: train and sample a mini GPT.",
        formatter_class=_Help,
        epilog=_examples(EXAMPLES["train"][0], EXAMPLES["generate"][1])
        + "\n`python -m llmlab train --help` and `python -m llmlab generate --help` list every flag.",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{train,generate,export-web}"
    )

    t = _command(
        sub, "train", "train a GPT on a UTF-8 text file", "Train a GPT on a UTF-8 text file."
    )
    t.add_argument(
        "--text",
        required=True,
        help="a UTF-8 text file to train on (its last --val-fraction held out)",
    )
    t.add_argument(
        "--out",
        default=None,
        help="folder for the checkpoint, saved at every evaluation; must be new or empty (default: no checkpoint)",
    )
    t.add_argument("--force", action="store_true", help="replace the checkpoint already in --out")
    t.add_argument("--n-layer", type=int, default=4, help="transformer blocks")
    t.add_argument(
        "--n-head", type=int, default=4, help="attention heads per block (must divide --n-embd)"
    )
    t.add_argument("--n-embd", type=int, default=128, help="width of the residual stream")
    t.add_argument(
        "--block-size",
        type=int,
        default=64,
        help="the model's context (T): it trains on windows of this many tokens",
    )
    t.add_argument(
        "--dropout", type=float, default=0.0, help="dropout probability while training, in [0, 1)"
    )
    t.add_argument(
        "--no-bias", action="store_true", help="no biases in Linear and LayerNorm layers"
    )
    t.add_argument(
        "--tokenizer",
        choices=["char", "bpe"],
        default="char",
        help="char: one id per character; bpe: byte-level BPE learned from the text",
    )
    t.add_argument(
        "--bpe-vocab-size",
        type=int,
        default=512,
        help="vocabulary size with --tokenizer bpe (>= 256)",
    )
    t.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of the text held out for validation, in (0, 1)",
    )
    t.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument(
        "--dist-timeout",
        type=float,
        default=600,
        help="under torchrun: seconds to wait for the other processes before stopping with an error",
    )
    if train_flags:
        _add_train_config_flags(t)

    g = _command(sub, "generate", "sample text from a checkpoint", "Sample text from a checkpoint.")
    g.add_argument(
        "--checkpoint", default=None, help="checkpoint folder (default: the course model)"
    )
    g.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    g.add_argument("--max-new-tokens", type=int, default=200, help="tokens to add after the prompt")
    g.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="below 1: more predictable, above 1: more random; 0: always the most likely token",
    )
    g.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="sample only among the k most likely tokens (default: all)",
    )
    g.add_argument(
        "--top-p",
        type=float,
        default=None,
        help="sample only from the most likely tokens that make up probability p, in (0, 1] (default: all)",
    )
    g.add_argument(
        "--seed", type=int, default=0, help="seed of the sampler: the same seed gives the same text"
    )
    g.add_argument(
        "--no-cache", action="store_true", help="generate without the KV cache (slower, same text)"
    )
    g.add_argument("--device", default="cpu", help="where to run: cpu, cuda, mps")

    w = _command(
        sub,
        "export-web",
        "put a checkpoint into the browser playground (playground.html)",
        "Write the playground page with a checkpoint's weights: it runs the model in "
        "the browser, from file:// or any static host.",
    )
    w.add_argument(
        "--checkpoint",
        default=None,
        help="checkpoint folder, char tokenizer (default: the course model)",
    )
    w.add_argument("--out", required=True, help="folder for playground.html and playground/")
    w.add_argument("--force", action="store_true", help="replace a playground already in --out")
    return parser


def _read_text(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"no such file: {path}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CLIError(
            f"{path} is not UTF-8 text (byte {e.start}: {e.reason}); convert it to UTF-8 first"
        ) from None
    except OSError as e:
        raise CLIError(f"cannot read {path}: {e.strerror or e}") from None
    if not text.strip():
        raise CLIError(f"{path} is empty; give a text file with some content to train on")
    return text


def _model_card(args, result_line: dict) -> str:
    """A short MODEL_CARD.md: what the checkpoint is and how it was made."""
    rows = "\n".join(f"| {k} | {v} |" for k, v in result_line.items())
    return (
        f"# A mini GPT trained on {Path(args.text).name}\n\n"
        f"Trained by `python -m llmlab train` ({args.tokenizer} tokenizer, {args.n_layer} layers, "
        f"{args.n_head} heads, width {args.n_embd}); the full recipe is in `config.json` "
        "(`meta.train_config`).\n\n| measure | value |\n|---|---|\n" + rows + "\n\n"
        "Load it with `llmlab.training.load_checkpoint(folder)`, sample with "
        "`python -m llmlab generate --checkpoint <folder>`.\n"
    )


def cmd_train(args) -> dict | None:
    if args.threads is not None and args.threads < 1:
        raise CLIError(f"--threads must be >= 1, got {args.threads}")
    text = _read_text(args.text)
    out = _prepare_out(args) if _rank() == 0 else None  # under torchrun only process 0 writes

    import torch

    from llmlab import training
    from llmlab.gpt import GPT, GPTConfig
    from llmlab.tokenizers import BPETokenizer, CharTokenizer

    fields = {f.name for f in dataclasses.fields(training.TrainConfig)}
    try:
        config = training.TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
        training.resolve_device(config.device)
        if args.threads:
            torch.set_num_threads(args.threads)
        tok: CharTokenizer | BPETokenizer
        if args.tokenizer == "char":
            tok = CharTokenizer.from_text(text)
        else:
            tok = BPETokenizer.train(text, args.bpe_vocab_size)
        train_text, val_text = training.split_train_val(text, args.val_fraction)
        stream = training.TokenStream(tok.encode(train_text), tok.encode(val_text), args.block_size)
        torch.manual_seed(config.seed)
        model = GPT(
            GPTConfig(
                vocab_size=tok.vocab_size,
                block_size=args.block_size,
                n_layer=args.n_layer,
                n_head=args.n_head,
                n_embd=args.n_embd,
                dropout=args.dropout,
                bias=not args.no_bias,
            )
        )
    except ValueError as e:
        raise CLIError(str(e)) from None
    dp = _join(config, args)
    if dp is not None:  # this process's device (cuda:LOCAL_RANK on a GPU node)
        config = dataclasses.replace(config, device=str(dp.device))
    broken = False  # another process failed: the group is left as it is (its teardown can abort)
    try:
        return _run_train(args, config, model, tok, stream, out, dp)
    except Exception as e:
        from llmlab.distributed import describe_failure

        message = describe_failure(dp, e) if dp is not None else None
        if message is None:
            raise
        broken = True
        raise _Stopped(EXIT_PEER, message) from None
    finally:
        if dp is not None and not broken:
            dp.close()


def _rank() -> int:
    """This process's rank under torchrun (0 without it)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _join(config, args):
    """Under torchrun: join the other processes (a llmlab.distributed.DataParallel); None alone."""
    from llmlab.distributed import DistributedError, init_from_env

    try:
        return init_from_env(config.device, args.dist_timeout, batch_size=config.batch_size)
    except DistributedError as e:
        raise _Stopped(EXIT_PEER, str(e)) from None


def _run_train(args, config, model, tok, stream, out, dp) -> dict | None:
    """Train and save (process 0 only saves and returns the result line; other processes None)."""
    from llmlab import training
    from llmlab.errors import NonFiniteLossError

    if out is not None:  # made before training starts, so a user sees where the checkpoint goes
        try:
            out.mkdir(exist_ok=True)
        except OSError as e:
            raise CLIError(f"--out: cannot make the folder {out}: {e.strerror or e}") from None
    params = sum(p.numel() for p in model.parameters())
    meta = {"text": Path(args.text).name, "train_config": config.to_dict()}
    if dp is not None:
        meta["data_parallel"] = {"processes": dp.world_size, "backend": dp.backend}
    progress = {"step": 0, "saved": None}  # steps done; step of the checkpoint on disk

    def count(step: int, loss: float) -> None:
        progress["step"] = step + 1

    def save(record: dict) -> None:
        if out is not None:
            overwrite = (
                args.force or progress["saved"] is not None
            )  # later saves replace this run's own
            training.save_checkpoint(
                out, model, tok, {**meta, "evaluation": record}, overwrite=overwrite
            )
            progress["saved"] = record["step"]

    try:
        result = training.train(
            model,
            stream,
            config,
            show_progress=not args.quiet,
            callback=count,
            on_evaluation=save,
            distributed=dp,
        )
    except KeyboardInterrupt:
        raise _Stopped(
            EXIT_INTERRUPTED, f"interrupted at step {progress['step']}; " + _where(out, progress)
        ) from None
    except NonFiniteLossError as e:
        where = _where(out, progress)
        raise _Stopped(EXIT_DIVERGED, f"{e} {where[0].upper()}{where[1:]}") from None
    line = {
        "val_loss": round(result.final_val_loss, 4),
        "train_loss": round(result.final_train_loss, 4),
        "tokens_per_s": round(result.tokens_per_s, 1),
        "wall_s": round(result.wall_s, 2),
        "params": params,
        "steps": len(result.steps),
        "vocab_size": tok.vocab_size,
    }
    if dp is not None:
        if not dp.is_main:
            return None
        line["processes"] = dp.world_size
    if out is not None:  # the final checkpoint again, now with the run's results and a card
        training.save_checkpoint(
            out,
            model,
            tok,
            {**meta, "result": result.summary()},
            overwrite=True,
            files={"MODEL_CARD.md": _model_card(args, line)},
        )
    return line


def _prepare_out(args) -> Path | None:
    """Check ``--out`` first of all (before a BPE tokenizer is trained, say); None without --out."""
    if args.out is None:
        return None
    from llmlab.errors import UsageError
    from llmlab.training import prepare_output_dir

    try:
        return prepare_output_dir(args.out, overwrite=args.force)
    except UsageError as e:
        raise CLIError(f"--out: {e}") from None


def _where(out: Path | None, progress: dict) -> str:
    if out is None:
        return "no checkpoint (no --out given)."
    if progress["saved"] is None:
        return f"no checkpoint was saved yet in {out}."
    return f"checkpoint at {out} (from step {progress['saved']})."


class _Stopped(Exception):
    """A run that ended early: one line and its own exit code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def cmd_generate(args) -> str:
    if args.max_new_tokens < 0:
        raise CLIError("--max-new-tokens must be >= 0")
    import torch

    from llmlab import generation, training
    from llmlab.tokenizers import UnknownCharacterError

    try:
        if args.checkpoint is None:
            ck = training.load_course_model(device=args.device)
        else:
            ck = training.load_checkpoint(args.checkpoint, device=args.device)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(f"--checkpoint: {e}") from None
    try:
        prompt_ids = ck.tokenizer.encode(args.prompt)
    except UnknownCharacterError as e:
        raise CLIError(f"the prompt cannot be encoded: {e}") from None
    if not prompt_ids:
        raise CLIError("the prompt is empty; give at least one character with --prompt")
    idx = torch.tensor([prompt_ids], dtype=torch.long, device=ck.model.device)
    try:
        out = generation.generate(
            ck.model,
            idx,
            args.max_new_tokens,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=args.seed,
            use_cache=not args.no_cache,
        )
    except ValueError as e:
        raise CLIError(str(e)) from None
    except KeyboardInterrupt:
        raise _Stopped(EXIT_INTERRUPTED, "interrupted; nothing generated was printed.") from None
    return ck.tokenizer.decode(out[0])  # the prompt followed by the new tokens


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser(train_flags="train" in argv)  # the TrainConfig flags import torch
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            line = cmd_train(args)
            if line is not None:  # None: a torchrun process other than 0
                print(json.dumps(line, allow_nan=False), flush=True)
        elif args.command == "export-web":
            from llmlab.web_export import export_web

            page = export_web(args.out, args.checkpoint, force=args.force)[0]
            print(f"open {page.resolve().as_uri()}", flush=True)
        else:
            print(cmd_generate(args), flush=True)
    except CLIError as e:
        return _fail(args.command, f"error: {e}", EXIT_USAGE)
    except _Stopped as e:
        code = _fail(args.command, str(e), e.code)
        if e.code == EXIT_PEER and _group_alive():  # a broken data-parallel run: leave at once
            from llmlab.distributed import leave_after_failure

            leave_after_failure(code)
        return code
    except KeyboardInterrupt:
        return _fail(args.command, "interrupted.", EXIT_INTERRUPTED)
    except BrokenPipeError:  # the reader went away (`... | head`): nothing more to say
        os.dup2(
            os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno()
        )  # as Python's docs advise for SIGPIPE
        return 1
    except ValueError as e:  # llmlab.errors.UsageError and the library's other argument checks
        return _fail(args.command, f"error: {e}", EXIT_USAGE)
    except Exception as e:  # a bug, not bad input: still one line, the traceback on request
        if os.environ.get("LLMLAB_DEBUG"):
            raise
        return _fail(
            args.command,
            f"internal error ({type(e).__name__}: {e}); set LLMLAB_DEBUG=1 "
            "for the traceback and please report it",
            1,
        )
    return 0


def _group_alive() -> bool:
    """Whether this process is still in a torch.distributed process group."""
    if "torch.distributed" not in sys.modules:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def _fail(command: str, message: str, code: int) -> int:
    print(f"llmlab {command}: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
