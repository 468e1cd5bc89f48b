"""Training a GPT: batches, the AdamW loop with warm-up and cosine decay, and checkpoints (lesson 04).

Lessons 05 (fine-tuning), 06 (encoder and decoder) and 08 (data parallel) train with the same loop.

The loop is nanoGPT's ``train.py`` (Karpathy, https://github.com/karpathy/nanoGPT) cut
down to what a CPU needs:

* batches of random windows of the token stream: ``x`` is a window, ``y`` the same
  window shifted one token to the left (the next token at every position);
* AdamW (Loshchilov & Hutter 2019, https://arxiv.org/abs/1711.05101) with weight decay
  only on the 2-D tensors (matmul weights and embeddings), not on biases and LayerNorm
  gains, as nanoGPT does;
* the learning rate rises linearly for ``warmup_iters`` steps, then follows a cosine
  down to ``min_lr`` (SGDR, Loshchilov & Hutter 2017, https://arxiv.org/abs/1608.03983);
* the gradient norm is clipped to ``grad_clip`` (Pascanu et al. 2013);
* every ``eval_interval`` steps the mean loss on ``eval_iters`` batches of the training
  and of the held-out split is measured, with the model in eval mode.

Batches come from any object with ``sample(split, batch_size, generator) -> (x, y)``
(both ``(B, T)`` long tensors; a ``y`` of -100 is left out of the loss) and a
``block_size``, the longest ``T`` it hands out, which ``train`` checks against the model's
context (``GPTConfig.block_size``, the one owner of the context); so fine-tuning plugs in its
own data.  :class:`TokenStream` is the one for language modelling.  The course's own model
shapes and recipes are in :mod:`llmlab.configs`.

Checkpoints are a folder with ``model.safetensors`` (the weights; safetensors never runs
code on load, unlike pickle) and ``config.json`` (model config, tokenizer, notes).

>>> from llmlab import data, gpt, tokenizers, training
>>> text = data.load_text("wiki-news")
>>> tok = tokenizers.CharTokenizer.from_text(text)
>>> train_ids, val_ids = training.split_train_val(tok.encode(text))
>>> model = gpt.GPT(gpt.GPTConfig(tok.vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=128))
>>> stream = training.TokenStream(train_ids, val_ids, model.config.block_size)
>>> result = training.train(model, stream, training.TrainConfig(max_iters=200))
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from llmlab import speedups
from llmlab.errors import NonFiniteLossError, UsageError, check_int, check_real
from llmlab.gpt import GPT, GPTConfig
from llmlab.llama import Llama, LlamaConfig
from llmlab.progress import LiveLossPlot, progress_bar
from llmlab.tokenizers import BPETokenizer, CharTokenizer, tokenizer_from_dict

if TYPE_CHECKING:
    from llmlab.optim import MuonWithAdamW

__all__ = [
    "Batches",
    "Checkpoint",
    "TokenStream",
    "TrainConfig",
    "TrainResult",
    "configure_optimizer",
    "estimate_loss",
    "load_checkpoint",
    "load_course_model",
    "lr_at",
    "prepare_output_dir",
    "resolve_device",
    "save_checkpoint",
    "split_train_val",
    "train",
]

#: Folder name of the shipped course model inside ``llmlab.paths.data_dir()`` (recipe: ``llmlab.configs``).
COURSE_MODEL = "mini-gpt"


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


def _knob(default, help_text: str):
    """A TrainConfig field with its meaning (the command line shows it as the flag's help)."""
    return field(default=default, metadata={"help": help_text})


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run.

    The defaults are nanoGPT's recipe for a small character-level model on a CPU
    (``config/train_shakespeare_char.py`` with the README's CPU overrides: batch 12,
    2000 iterations, lr decayed over all of them; its block 64 is the model's context and
    the batch source's window, not a training knob).
    """

    max_iters: int = _knob(2000, "optimizer steps")
    batch_size: int = _knob(12, "sequences per step (B)")
    lr: float = _knob(1e-3, "peak learning rate, reached after warm-up")
    min_lr: float = _knob(1e-4, "learning rate at the end of the cosine decay")
    warmup_iters: int = _knob(100, "linear warm-up from ~0 to lr over this many steps")
    lr_decay_iters: int | None = _knob(
        None, "the cosine reaches min_lr at this step (default: max_iters)"
    )
    weight_decay: float = _knob(0.1, "AdamW's decoupled weight decay, on 2-D weights only")
    beta1: float = _knob(0.9, "AdamW's beta1 (momentum of the gradient)")
    beta2: float = _knob(0.99, "AdamW's beta2 (momentum of the squared gradient)")
    grad_clip: float = _knob(1.0, "max global gradient norm (0: no clipping)")
    eval_interval: int = _knob(
        250, "evaluate (and save a checkpoint) every this many steps, and at the end"
    )
    eval_iters: int = _knob(20, "batches per split in each evaluation")
    seed: int = _knob(0, "seeds the batch sampler and dropout")
    device: str = _knob("cpu", "where to train: cpu, cuda, cuda:1, mps")
    fused_optimizer: bool = _knob(
        True, "AdamW's fused kernel (CPU, CUDA, MPS); off: its foreach kernel"
    )
    # The speedrun's levers (llmlab.optim, llmlab.speedups; benchmarks/bench_training.py measures each)
    optimizer: str = _knob(
        "adamw", "adamw, or muon: Muon on the hidden matrices, AdamW (lr) on the rest"
    )
    muon_lr: float = _knob(0.02, "Muon's peak learning rate (optimizer=muon)")
    muon_bf16: bool = _knob(
        True, "Muon's Newton-Schulz in bfloat16 where it is measured clearly faster than float32"
    )
    precision: str = _knob(
        "float32", "float32, or bfloat16: autocast where the CPU/GPU multiplies bfloat16"
    )
    compile: bool = _knob(False, "torch.compile the model where a C++ compiler exists")

    def __post_init__(self) -> None:
        for name in ("max_iters", "batch_size", "eval_interval", "eval_iters"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("warmup_iters", self.warmup_iters, minimum=0)
        check_int("seed", self.seed)
        if self.lr_decay_iters is not None:
            check_int("lr_decay_iters", self.lr_decay_iters, minimum=1)
        check_real("lr", self.lr, minimum=0, open_min=True)
        check_real("min_lr", self.min_lr, minimum=0)
        if not self.min_lr <= self.lr:
            raise UsageError(f"Need 0 <= min_lr <= lr, got min_lr={self.min_lr}, lr={self.lr}.")
        check_real("grad_clip", self.grad_clip, minimum=0)
        check_real("weight_decay", self.weight_decay, minimum=0)
        for name in ("beta1", "beta2"):
            check_real(name, getattr(self, name), minimum=0, maximum=1, open_max=True)
        if not isinstance(self.device, str):
            raise UsageError(
                f"device must be a string such as 'cpu' or 'cuda', got {self.device!r}."
            )
        for name in ("fused_optimizer", "compile", "muon_bf16"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        for name, allowed in (
            ("optimizer", ("adamw", "muon")),
            ("precision", ("float32", "bfloat16")),
        ):
            if getattr(self, name) not in allowed:
                raise UsageError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}."
                )
        check_real("muon_lr", self.muon_lr, minimum=0, open_min=True)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


def lr_at(step: int, config: TrainConfig) -> float:
    """The learning rate at ``step`` (0-based): linear warm-up, then cosine decay to min_lr.

    Same schedule as nanoGPT's ``get_lr``.
    """
    decay_iters = config.lr_decay_iters or config.max_iters
    if step < config.warmup_iters:
        return config.lr * (step + 1) / (config.warmup_iters + 1)
    if step >= decay_iters:
        return config.min_lr
    progress = (step - config.warmup_iters) / max(1, decay_iters - config.warmup_iters)  # 0 -> 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * progress))  # 1 -> 0
    return config.min_lr + coeff * (config.lr - config.min_lr)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


class Batches(Protocol):
    """Anything that hands out training batches: ``block_size`` is the longest ``T`` of its rows."""

    block_size: int

    def sample(
        self, split: str, batch_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)``, both ``(batch_size, T)`` long tensors, for split "train" or "val"."""
        ...


def split_train_val(data: Sequence, val_fraction: float = 0.1):
    """Cut ``data`` (a text, a list or a tensor of ids) into (first 90%, last 10%).

    Deterministic: the validation split is the end of the text, never seen in training.
    """
    check_real("val_fraction", val_fraction, minimum=0, maximum=1, open_min=True, open_max=True)
    n_train = int(len(data) * (1 - val_fraction))
    return data[:n_train], data[n_train:]


class TokenStream:
    """Random windows of a token stream, for language modelling.

    ``sample`` picks ``batch_size`` random start positions ``i`` and returns
    ``x = ids[i : i+T]`` and ``y = ids[i+1 : i+T+1]``: at every position the
    target is the next token.  ``T = block_size``, the window, usually the model's context.
    """

    def __init__(self, train_ids, val_ids, block_size: int):
        self.block_size = check_int("block_size", block_size, minimum=1)
        self.ids = {
            "train": self._as_tensor(train_ids, "train"),
            "val": self._as_tensor(val_ids, "val"),
        }
        # All windows of length T+1 as a view (no copy): (N - T, T + 1)
        self._windows = {k: v.unfold(0, self.block_size + 1, 1) for k, v in self.ids.items()}

    def _as_tensor(self, ids, split: str) -> torch.Tensor:
        if isinstance(ids, str):
            raise UsageError(
                f"The {split} split is text; a TokenStream takes token ids: tokenizer.encode(text)."
            )
        t = torch.as_tensor(ids)
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise UsageError(
                f"The {split} split must hold integer token ids, got {t.dtype} values."
            )
        t = t.to(torch.long).flatten()
        if t.numel() < self.block_size + 2:
            raise ValueError(
                f"The {split} split has {t.numel()} tokens; it needs more than block_size + 1 = "
                f"{self.block_size + 1}. Use a longer text or a smaller block_size."
            )
        return t

    def __len__(self) -> int:
        return self.ids["train"].numel()

    def sample(self, split: str, batch_size: int, generator: torch.Generator | None = None):
        """``(x, y)``: two ``(batch_size, block_size)`` long tensors."""
        if split not in self._windows:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}.")
        windows = self._windows[split]  # (N - T, T + 1)
        ix = torch.randint(windows.size(0), (batch_size,), generator=generator)  # (B,)
        chunk = windows[ix]  # (B, T + 1), a copy
        return chunk[:, :-1], chunk[:, 1:]  # (B, T), (B, T)


# ---------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What a run did: the loss curves and how fast it went."""

    steps: list[int] = field(default_factory=list)  # every optimizer step
    train_losses: list[float] = field(default_factory=list)  # loss of that step's batch
    lrs: list[float] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)  # {"step", "train_loss", "val_loss"}
    tokens_seen: int = 0
    wall_s: float = 0.0  # whole run, evaluations included
    train_s: float = 0.0  # the training steps only
    cpu_s: float = 0.0  # process CPU time (user + system) of the whole run
    tokens_per_s: float = 0.0  # training tokens per second of train_s
    config: dict = field(default_factory=dict)

    @property
    def final_train_loss(self) -> float:
        return self.evals[-1]["train_loss"] if self.evals else float("nan")

    @property
    def final_val_loss(self) -> float:
        return self.evals[-1]["val_loss"] if self.evals else float("nan")

    def summary(self) -> dict:
        """The headline numbers, JSON-ready."""
        return {
            "steps": len(self.steps),
            "tokens_seen": self.tokens_seen,
            "train_loss": round(self.final_train_loss, 4),
            "val_loss": round(self.final_val_loss, 4),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "wall_s": round(self.wall_s, 2),
            "cpu_s": round(self.cpu_s, 2),
        }

    def to_dict(self) -> dict:
        return {**asdict(self), **self.summary()}


_FUSED_ADAMW_DEVICES = ("cpu", "cuda", "mps")


def configure_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW | MuonWithAdamW:
    """AdamW with weight decay on every parameter of 2+ dimensions (matmul weights and
    embeddings), none on biases and LayerNorm gains, as nanoGPT's ``configure_optimizers``.

    ``named_parameters()`` lists a tied weight (wte = lm_head) once, so it is updated once.
    ``config.optimizer == "muon"``: Muon on the hidden matrices instead (:mod:`llmlab.optim`).
    """
    if config.optimizer == "muon":
        from llmlab.optim import build_optimizer

        return build_optimizer(
            model,
            config.lr,
            config.muon_lr,
            config.weight_decay,
            (config.beta1, config.beta2),
            config.fused_optimizer,
            ns_bf16=config.muon_bf16 and speedups.bf16_newton_schulz_pays(model, config.device),
        )
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # Both kernels compute the same update (equal up to rounding). "foreach" runs a few batched ops
    # per group; "fused" makes one pass over each tensor, several times faster on a CPU for the
    # course's models (benchmarks/RESULTS.md measures both). nanoGPT asks for fused only on CUDA,
    # so on a CPU it gets torch's default, a Python loop over the tensors.
    fused = config.fused_optimizer and all(
        p.device.type in _FUSED_ADAMW_DEVICES and p.is_floating_point() for p in params
    )
    kernel = {"fused": True} if fused else {"foreach": True}
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2), **kernel)


@torch.no_grad()
def estimate_loss(
    model: nn.Module,
    batches: Batches,
    batch_size: int,
    eval_iters: int,
    seed: int = 0,
    splits: Sequence[str] = ("train", "val"),
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Mean loss over ``eval_iters`` batches per split, model in eval mode (no dropout).

    The batches come from a generator seeded with ``seed``, so every evaluation of a
    run looks at the same windows and the curve's wiggles are the model's, not the data's.
    """
    was_training = model.training
    model.eval()
    out = {}
    for split in splits:
        g = torch.Generator().manual_seed(seed)
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            x, y = batches.sample(split, batch_size, g)
            _, loss = model(x.to(device), y.to(device))
            losses[k] = loss.item()
        out[split] = losses.mean().item()
    model.train(was_training)
    return out


def _check_batches(name: str, batches: Batches, model: nn.Module) -> None:
    """A batch source: it has ``sample`` and a ``block_size`` that fits the model's context."""
    if not hasattr(batches, "sample") or not isinstance(getattr(batches, "block_size", None), int):
        raise TypeError(
            f"{name} must have a .sample(split, batch_size, generator) method and a block_size "
            "(the longest row it hands out), e.g. TokenStream(train_ids, val_ids, block_size); "
            f"got {type(batches).__name__}."
        )
    context = getattr(getattr(model, "config", None), "block_size", None)
    if context is not None and batches.block_size > context:
        raise ValueError(
            f"{name} hands out rows of {batches.block_size} tokens, longer than the model's context "
            f"({context}); build them with block_size <= {context}, e.g. model.config.block_size."
        )


def train(
    model: nn.Module,
    train_batches: Batches,
    config: TrainConfig | None = None,
    val_batches: Batches | None = None,
    *,
    live_plot: bool = False,
    show_progress: bool = True,
    callback=None,
    on_evaluation=None,
    distributed=None,
) -> TrainResult:
    """Train ``model`` on ``train_batches`` with ``config``; returns a :class:`TrainResult`.

    ``train(model, TokenStream(train_ids, val_ids, model.config.block_size), config)`` is the
    usual call. ``train_batches``: the training batches (its "train" split); ``config``: the
    optimizer and schedule (None: ``TrainConfig()``, nanoGPT's CPU recipe); ``val_batches``:
    where the held-out loss is measured (its "val" split; None: ``train_batches``' own "val"
    split). The batches' ``block_size`` must fit the model's context, ``model.config.block_size``.
    ``live_plot=True`` draws the loss curve live in a notebook (nothing elsewhere).
    ``callback(step, loss)`` (optional) is called after each step, ``on_evaluation(record)``
    after each evaluation (``record``: ``{"step", "train_loss", "val_loss"}``), e.g. to save
    a checkpoint there.

    A NaN or infinite loss (of a step or of an evaluation) stops the run at once with a
    :class:`llmlab.errors.NonFiniteLossError` that names the step and carries the result so
    far (``error.result``); the model's weights are then those before the failing step.

    Reproducible: the batch sampler and dropout are seeded with ``config.seed``, so the
    same model initialisation and config give the same weights (same machine, same
    thread count).  The model's initialisation is the caller's: seed before building it.

    ``distributed`` (a :class:`llmlab.distributed.DataParallel`, from
    ``llmlab.distributed.init_from_env()`` under ``torchrun``) trains with data parallelism:
    ``config.batch_size`` stays the global batch, each process computes the gradient of its
    own equal share of it and DistributedDataParallel averages them; only the main process
    evaluates, shows progress and calls ``on_evaluation``.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    val_batches = train_batches if val_batches is None else val_batches
    for name, source in (("train_batches", train_batches), ("val_batches", val_batches)):
        _check_batches(name, source, model)
    device = resolve_device(config.device)
    model.to(device)
    model.train()
    torch.manual_seed(config.seed)  # dropout masks
    gen = torch.Generator().manual_seed(config.seed)  # batch positions
    optimizer = configure_optimizer(model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    step_model, step_batches, world, main = model, train_batches, 1, True
    if (
        distributed is not None
    ):  # data parallel (llmlab.distributed): this process's share of each batch
        step_model, step_batches = (
            distributed.wrap(model),
            distributed.shard(train_batches, config.batch_size),
        )
        world, main = distributed.world_size, distributed.is_main
    step_model = speedups.maybe_compile(step_model, config.compile)

    result = TrainResult(config=config.to_dict())
    plot = LiveLossPlot() if live_plot and main else None
    if plot is not None:  # fix the order (and so the colours) of the curves
        for name in ("train (one batch)", "train (evaluated)", "validation (held out)"):
            plot.series.setdefault(name, ([], []))

    def evaluate(step: int) -> dict:
        losses = {
            split: estimate_loss(
                model,
                source,
                config.batch_size,
                config.eval_iters,
                seed=config.seed + 1,
                splits=(split,),
                device=device,
            )[split]
            for split, source in (("train", train_batches), ("val", val_batches))
        }
        record = {"step": step, "train_loss": losses["train"], "val_loss": losses["val"]}
        if not (math.isfinite(record["train_loss"]) and math.isfinite(record["val_loss"])):
            _stop_non_finite(
                step,
                f"the evaluated loss is {record['train_loss']} (train), "
                f"{record['val_loss']} (validation)",
                config,
                result,
            )
        result.evals.append(record)
        if plot is not None:
            plot.add("train (evaluated)", step, losses["train"])
            plot.add("validation (held out)", step, losses["val"])
            plot.refresh(force=True)
        if on_evaluation is not None:
            on_evaluation(record)
        return record

    cpu0, wall0 = time.process_time(), time.perf_counter()
    eval_s = 0.0
    # A bar updated by hand: iterating over it would close it before the final evaluation.
    bar = progress_bar(
        total=config.max_iters, desc="training", disable=not (show_progress and main)
    )
    try:
        for step in range(config.max_iters):
            if main and step % config.eval_interval == 0:
                t = time.perf_counter()
                record = evaluate(step)
                eval_s += time.perf_counter() - t
                bar.set_postfix(
                    train=f"{record['train_loss']:.3f}",
                    val=f"{record['val_loss']:.3f}",
                    refresh=False,
                )

            lr = lr_at(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)  # Muon's groups: muon_lr / lr
            x, y = step_batches.sample(
                "train", config.batch_size, gen
            )  # (B, T), (B, T); B / world in parallel
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with speedups.autocast(config.precision, device):
                _, loss = step_model(x, y)
            loss_value = (
                loss.item() if distributed is None else distributed.mean(loss)
            )  # whole batch's loss
            if not math.isfinite(
                loss_value
            ):  # before backward: the weights stay those of the last good step
                _stop_non_finite(step, f"the loss is {loss_value}", config, result)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip, foreach=True)
            optimizer.step()

            result.steps.append(step)
            result.train_losses.append(loss_value)
            result.lrs.append(lr)
            result.tokens_seen += x.numel() * world
            if plot is not None:
                plot.add("train (one batch)", step, loss_value)
                plot.refresh()
            bar.update(1)
            if callback is not None:
                callback(step, loss_value)

        if main:
            t = time.perf_counter()
            record = evaluate(config.max_iters)
            eval_s += time.perf_counter() - t
            bar.set_postfix(
                train=f"{record['train_loss']:.3f}", val=f"{record['val_loss']:.3f}", refresh=True
            )
    finally:  # also on a NaN stop or Ctrl-C: close the bar and keep the curve drawn so far
        bar.close()
        if plot is not None:
            plot.finish()
    model.eval()

    result.wall_s = time.perf_counter() - wall0
    result.cpu_s = time.process_time() - cpu0
    result.train_s = max(result.wall_s - eval_s, 1e-9)
    result.tokens_per_s = result.tokens_seen / result.train_s
    return result


def _stop_non_finite(step: int, what: str, config: TrainConfig, result: TrainResult):
    """Raise the one-line error of a run whose loss stopped being a number."""
    clip = " or clip gradients (--grad-clip 1.0)" if config.grad_clip == 0 else ""
    raise NonFiniteLossError(
        f"Training stopped at step {step}: {what}. The weights blew up, most likely because the "
        f"learning rate is too high (lr={config.lr:g}): lower it (--lr), e.g. ten times{clip}.",
        step,
        result,
    )


def resolve_device(device) -> torch.device:
    """``device`` ("cpu", "cuda", "cuda:1", "mps", or a torch.device) checked to exist on this machine."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(
            f"Unknown device {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(
                f"device {device!r} asked for, but this machine has no CUDA GPU that torch can use; use 'cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(
                f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0."
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(
            f"device {device!r} asked for, but MPS (Apple GPU) is not available here; use 'cpu'."
        )
    elif dev.type not in ("cpu", "cuda", "mps", "meta"):
        if not getattr(getattr(torch, dev.type, None), "is_available", lambda: False)():
            raise UsageError(f"device {device!r} is not available on this machine; use 'cpu'.")
    return dev


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------

CHECKPOINT_FORMAT = "llmlab-gpt"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class Checkpoint:
    """A trained model with its tokenizer and notes (``meta``: how it was trained)."""

    model: GPT | Llama
    tokenizer: CharTokenizer | BPETokenizer
    meta: dict

    @property
    def config(self) -> GPTConfig | LlamaConfig:
        return self.model.config

    def encode(self, text: str) -> torch.Tensor:
        """``text`` -> a ``(1, T)`` tensor of ids on the model's device."""
        return torch.tensor(
            [self.tokenizer.encode(text)], dtype=torch.long, device=self.model.device
        )


#: What a checkpoint folder may hold besides its weights and config: ``overwrite=True`` replaces
#: a folder only if everything in it is one of these (llmlab never deletes a user's other files).
CHECKPOINT_FILES = (
    WEIGHTS_FILE,
    CONFIG_FILE,
    "MODEL_CARD.md",
    "train_log.json",
    "adapters.safetensors",
)


def prepare_output_dir(
    directory, overwrite: bool = False, how_to_replace: str = "--force (overwrite=True in Python)"
) -> Path:
    """Check, before any work, that a checkpoint can be written to ``directory``; returns it as a Path.

    Refused with a one-line :class:`~llmlab.errors.UsageError`: a path that is a file or lies
    below one, a folder that is not writable, a non-empty folder unless ``overwrite`` (and even
    then a folder holding anything but checkpoint files).  The parent folders are created;
    ``directory`` itself is left as it is (a save swaps a complete folder into its place).
    ``how_to_replace`` is what the refusal suggests (a script names its own flag).
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file, not a folder: give a folder for the checkpoint.")
    if directory.is_dir() and any(directory.iterdir()):
        entries = sorted(p.name for p in directory.iterdir())
        if not overwrite:
            raise UsageError(
                f"{directory} is not empty ({', '.join(entries[:4])}{', ...' if len(entries) > 4 else ''}); "
                f"choose a new folder, or replace it with {how_to_replace}."
            )
        foreign = [
            name for name in entries if name not in CHECKPOINT_FILES or (directory / name).is_dir()
        ]
        if foreign:
            raise UsageError(
                f"{directory} holds more than a checkpoint ({', '.join(foreign[:4])}); llmlab replaces only "
                "a checkpoint folder and never deletes other files: choose a new or empty folder."
            )
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        probe = directory.parent / f".{directory.name}.probe-{os.getpid()}"
        probe.mkdir()
        probe.rmdir()
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            f"Cannot make the folder {directory}: a part of that path is a file."
        ) from None
    except PermissionError:
        raise UsageError(
            f"No permission to write in {directory.parent}: choose a folder you can write to."
        ) from None
    except OSError as e:
        raise UsageError(f"Cannot write a checkpoint to {directory}: {e.strerror or e}.") from None
    return directory


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but another user's
        return True
    return True


def _remove_stale_saves(directory: Path) -> None:
    """Delete the half-written folders of saves into ``directory`` whose process is gone (a killed run)."""
    for tmp in directory.parent.glob(f".{directory.name}.saving-*"):
        pid = tmp.name.rsplit("-", 2)[-2]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _write_file(path: Path, payload: bytes | str) -> None:
    with open(path, "wb") as f:
        f.write(payload.encode("utf-8") if isinstance(payload, str) else payload)
        f.flush()
        os.fsync(f.fileno())


def save_checkpoint(
    directory,
    model: nn.Module,
    tokenizer,
    meta: dict | None = None,
    *,
    overwrite: bool = False,
    files: dict[str, str | bytes] | None = None,
) -> Path:
    """Write a checkpoint folder: ``model.safetensors``, ``config.json`` (and ``files``, e.g. a model card).

    Never half-written, never replaced unasked: the whole folder is written to a hidden
    sibling first and then renamed into place, so a crash or Ctrl-C leaves either the old
    checkpoint or the new one.  A non-empty ``directory`` is refused unless
    ``overwrite=True`` (see :func:`prepare_output_dir`).  ``files`` maps extra file names
    to their text or bytes (``MODEL_CARD.md``, ``train_log.json``).

    The tied embedding / output matrix is stored once (safetensors refuses shared
    tensors; ``safetensors.torch.save_model`` drops the duplicate name and
    ``load_model`` ties it again).  Weights are saved as float32 on the CPU;
    ``config.json`` records their SHA-256, so a damaged file is caught at load time.
    """
    from safetensors.torch import save_model

    if not isinstance(model, nn.Module) or not hasattr(model, "config"):
        raise UsageError(
            f"save_checkpoint needs an llmlab model with a .config, got {type(model).__name__}."
        )
    if not hasattr(tokenizer, "to_dict"):
        raise UsageError(
            f"save_checkpoint needs the model's tokenizer (CharTokenizer or BPETokenizer), got {type(tokenizer).__name__}."
        )
    vocab = getattr(model.config, "vocab_size", None)
    if vocab is not None and tokenizer.vocab_size > vocab:
        raise UsageError(
            f"The tokenizer has {tokenizer.vocab_size} ids but the model only {vocab}: "
            "save the model with the tokenizer it was trained with."
        )
    files = dict(files or {})
    for name in files:
        if name in (WEIGHTS_FILE, CONFIG_FILE) or Path(name).name != name or name.startswith("."):
            raise UsageError(
                f"files: {name!r} must be a plain file name other than {WEIGHTS_FILE} and {CONFIG_FILE}."
            )
    model_config: Any = model.config  # a GPTConfig or a LlamaConfig
    config = model_config.to_dict() if hasattr(model_config, "to_dict") else asdict(model_config)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": 1,
        "model": config,
        "tokenizer": tokenizer.to_dict(),
        "meta": meta or {},
    }
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise UsageError(
            f"meta must be plain JSON data (str, numbers, lists, dicts; no NaN): {e}."
        ) from None
    directory = prepare_output_dir(directory, overwrite)
    _remove_stale_saves(directory)

    tmp = directory.parent / f".{directory.name}.saving-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        tmp.mkdir()
        device = next(model.parameters()).device
        model.to("cpu")
        try:
            save_model(model, str(tmp / WEIGHTS_FILE), metadata={"format": CHECKPOINT_FORMAT})
        finally:
            model.to(device)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(
            tmp / WEIGHTS_FILE, 0o666 & ~umask
        )  # as any other new file (safetensors makes it 0600)
        weights = (tmp / WEIGHTS_FILE).read_bytes()
        payload["weights"] = {"bytes": len(weights), "sha256": hashlib.sha256(weights).hexdigest()}
        _write_file(
            tmp / CONFIG_FILE,
            json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
        )
        for name, content in files.items():
            _write_file(tmp / name, content)
        _swap_into_place(tmp, directory)
    except OSError as e:
        raise UsageError(
            f"Could not write the checkpoint to {directory} ({e.strerror or e}); "
            "nothing there was changed. Free some disk space or choose another folder."
        ) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return directory


def _swap_into_place(new: Path, target: Path) -> None:
    """Rename the complete folder ``new`` to ``target``; an existing ``target`` is moved aside, then deleted."""
    if not target.exists():
        os.rename(new, target)
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(target, old)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(old, target)  # put the previous checkpoint back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _damaged(directory: Path, what: str) -> UsageError:
    return UsageError(
        f"The checkpoint in {directory} is damaged: {what}. Save or download it again."
    )


def _read_config(directory: Path) -> dict:
    """``config.json`` of a checkpoint as a dict, with one-line errors for a damaged file."""
    try:
        payload = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _damaged(directory, f"{CONFIG_FILE} is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise _damaged(
            directory,
            f"{CONFIG_FILE} is not valid JSON (line {e.lineno}, column {e.colno}: "
            f"{e.msg}; was it cut off while being written?)",
        ) from None
    if not isinstance(payload, dict):
        raise _damaged(directory, f"{CONFIG_FILE} holds a {type(payload).__name__}, not an object")
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(
            f"{CONFIG_FILE} in {directory.name!r} is not an llmlab checkpoint (format {payload.get('format')!r})."
        )
    for key, kind in (("model", dict), ("tokenizer", dict), ("meta", dict)):
        if not isinstance(payload.get(key, {}), kind) or (key != "meta" and key not in payload):
            raise _damaged(
                directory, f"the field {key!r} of {CONFIG_FILE} is missing or not an object"
            )
    return payload


def _check_weights_file(directory: Path, payload: dict, model: nn.Module) -> None:
    """The weights file is the one config.json recorded, and holds every tensor ``model`` needs, in its shape."""
    from safetensors import SafetensorError, safe_open

    path = directory / WEIGHTS_FILE
    recorded = payload.get("weights")
    if isinstance(recorded, dict) and recorded.get("sha256"):
        data = path.read_bytes()
        if (
            len(data) != recorded.get("bytes")
            or hashlib.sha256(data).hexdigest() != recorded["sha256"]
        ):
            raise _damaged(
                directory,
                f"{WEIGHTS_FILE} is not the file that was saved with this "
                f"{CONFIG_FILE} (its size or SHA-256 differs)",
            )
    try:
        with safe_open(str(path), "pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise _damaged(
            directory, f"{WEIGHTS_FILE} cannot be read as safetensors ({str(e).splitlines()[0]})"
        ) from None
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for name, shape in shapes.items():
        if name in wanted and wanted[name] != shape:
            raise UsageError(
                f"{WEIGHTS_FILE} in {directory} does not fit its {CONFIG_FILE}: {name} has shape {shape}, "
                f"the model config needs {wanted[name]}; the two files come from different models."
            )
    unknown = sorted(set(shapes) - set(wanted))
    if unknown:
        raise UsageError(
            f"{WEIGHTS_FILE} in {directory} holds tensors this model does not have ({', '.join(unknown[:3])}); "
            f"it does not belong to this {CONFIG_FILE}."
        )


def load_checkpoint(directory, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a folder written by :func:`save_checkpoint`; the model comes back in eval mode.

    Only JSON and safetensors are read: nothing is unpickled, so loading a checkpoint
    cannot run code.  A damaged or inconsistent folder (truncated JSON, unknown config
    fields, weights of another shape or a changed weights file, a tokenizer with more ids
    than the model) is refused with a one-line :class:`~llmlab.errors.UsageError`.
    """
    from safetensors.torch import load_model

    device = resolve_device(device)
    if not isinstance(directory, (str, os.PathLike)):
        raise UsageError(f"load_checkpoint takes a folder path, got {type(directory).__name__}.")
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"No checkpoint folder {directory}: it does not exist or is not a folder."
        )
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE) if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"No llmlab checkpoint in the folder {directory.name!r}: {', '.join(missing)} missing. "
            "A checkpoint is written by llmlab.training.save_checkpoint or `python -m llmlab train --out DIR`."
        )
    payload = _read_config(directory)
    arch = payload["model"].get("arch")
    if arch is not None:  # llmlab.llama's checkpoints say which architecture they hold
        raise UsageError(
            f"{directory / CONFIG_FILE} holds a {arch!r} model, not a GPT: load it with "
            f"llmlab.{arch}.load_{arch}_checkpoint."
        )
    fields_ = {f.name for f in dataclasses.fields(GPTConfig)}
    unknown = sorted(set(payload["model"]) - fields_)
    if unknown:
        raise UsageError(
            f"{directory / CONFIG_FILE}: unknown field 'model.{unknown[0]}' (a GPTConfig has "
            f"{', '.join(sorted(fields_))}); was it written by another program or a newer llmlab?"
        )
    try:
        config = GPTConfig(**payload["model"])
    except (TypeError, ValueError) as e:
        raise UsageError(f"{directory / CONFIG_FILE}, field 'model': {e}") from None
    try:
        tokenizer = tokenizer_from_dict(payload["tokenizer"])
    except (KeyError, TypeError, ValueError) as e:
        raise _damaged(
            directory, f"the field 'tokenizer' of {CONFIG_FILE} cannot be read ({e})"
        ) from None
    if tokenizer.vocab_size > config.vocab_size:
        raise UsageError(
            f"{directory / CONFIG_FILE}: the tokenizer has {tokenizer.vocab_size} ids but the model only "
            f"{config.vocab_size} (model.vocab_size); the tokenizer belongs to another model."
        )
    model = GPT(config)
    _check_weights_file(directory, payload, model)
    try:
        load_model(model, str(directory / WEIGHTS_FILE), strict=True, device=str(device))
    except RuntimeError as e:
        raise UsageError(
            f"{WEIGHTS_FILE} in {directory} does not fit its {CONFIG_FILE}: "
            f"{str(e).splitlines()[0]}"
        ) from None
    model.to(device)
    model.eval()
    return Checkpoint(model=model, tokenizer=tokenizer, meta=payload.get("meta", {}))


def load_course_model(device: str | torch.device = "cpu") -> Checkpoint:
    """The course's pretrained mini GPT (``data/mini-gpt``), with its tokenizer and model card facts."""
    from llmlab.paths import data_dir

    directory = data_dir() / COURSE_MODEL
    if not (directory / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(
            f"The course model ({COURSE_MODEL}) is missing from the course data folder. "
            "Reinstall the course (`pip install .` in the repository), or rebuild it with "
            "`python scripts/train_course_model.py` (about 25 minutes on 2 CPU cores)."
        )
    return load_checkpoint(directory, device=device)
