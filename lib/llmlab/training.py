"""Training a GPT: batches, the AdamW loop with warm-up and cosine decay, and checkpoints.

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
(both ``(B, T)`` long tensors; a ``y`` of -100 is left out of the loss), so fine-tuning
plugs in its own data.  :class:`TokenStream` is the one for language modelling.

Checkpoints are a folder with ``model.safetensors`` (the weights; safetensors never runs
code on load, unlike pickle) and ``config.json`` (model config, tokenizer, notes).

>>> from llmlab import data, gpt, tokenizers, training
>>> text = data.load_text("wiki-news")
>>> tok = tokenizers.CharTokenizer.from_text(text)
>>> train_ids, val_ids = training.split_train_val(tok.encode(text))
>>> cfg = training.TrainConfig(max_iters=200)
>>> model = gpt.GPT(gpt.GPTConfig(tok.vocab_size, cfg.block_size, 4, 4, 128))
>>> result = training.train(model, training.TokenStream(train_ids, val_ids, cfg.block_size), cfg)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from llmlab.progress import LiveLossPlot, progress_bar
from llmlab.tokenizers import BPETokenizer, CharTokenizer, tokenizer_from_dict

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
    "save_checkpoint",
    "split_train_val",
    "train",
]

#: Folder name of the shipped course model inside ``llmlab.paths.data_dir()``.
COURSE_MODEL = "mini-gpt"


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run.

    The defaults are nanoGPT's recipe for a small character-level model on a CPU
    (``config/train_shakespeare_char.py`` with the README's CPU overrides: block 64,
    batch 12, 2000 iterations, lr decayed over all of them).
    """

    max_iters: int = 2000  # optimizer steps
    batch_size: int = 12  # sequences per step (B)
    block_size: int = 64  # tokens per sequence (T); at most the model's block_size
    lr: float = 1e-3  # peak learning rate, reached after warm-up
    min_lr: float = 1e-4  # learning rate at the end of the cosine decay
    warmup_iters: int = 100  # linear warm-up from ~0 to lr
    lr_decay_iters: int | None = None  # cosine reaches min_lr here (None: max_iters)
    weight_decay: float = 0.1  # AdamW decoupled decay, on 2-D weights only
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # max global gradient norm (0: no clipping)
    eval_interval: int = 250  # evaluate every this many steps (and at the end)
    eval_iters: int = 20  # batches per split in each evaluation
    seed: int = 0  # seeds the batch sampler and dropout
    device: str = "cpu"
    fused_optimizer: bool = True  # AdamW's fused kernel (CPU, CUDA, MPS); False: its foreach kernel

    def __post_init__(self) -> None:
        for name in ("max_iters", "batch_size", "block_size", "eval_interval", "eval_iters"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {getattr(self, name)}.")
        if self.warmup_iters < 0:
            raise ValueError(f"warmup_iters must be >= 0, got {self.warmup_iters}.")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"Need 0 <= min_lr <= lr, got min_lr={self.min_lr}, lr={self.lr}.")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise ValueError("grad_clip and weight_decay must be >= 0.")

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.block_size

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
    """Anything that hands out training batches."""

    def sample(self, split: str, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)``, both ``(batch_size, T)`` long tensors, for split "train" or "val"."""
        ...


def split_train_val(data: Sequence, val_fraction: float = 0.1):
    """Cut ``data`` (a text, a list or a tensor of ids) into (first 90%, last 10%).

    Deterministic: the validation split is the end of the text, never seen in training.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}.")
    n_train = int(len(data) * (1 - val_fraction))
    return data[:n_train], data[n_train:]


class TokenStream:
    """Random windows of a token stream, for language modelling.

    ``sample`` picks ``batch_size`` random start positions ``i`` and returns
    ``x = ids[i : i+T]`` and ``y = ids[i+1 : i+T+1]``: at every position the
    target is the next token.
    """

    def __init__(self, train_ids, val_ids, block_size: int):
        self.block_size = int(block_size)
        self.ids = {"train": self._as_tensor(train_ids, "train"), "val": self._as_tensor(val_ids, "val")}
        # All windows of length T+1 as a view (no copy): (N - T, T + 1)
        self._windows = {k: v.unfold(0, self.block_size + 1, 1) for k, v in self.ids.items()}

    def _as_tensor(self, ids, split: str) -> torch.Tensor:
        t = torch.as_tensor(ids, dtype=torch.long).flatten()
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


def configure_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on every parameter of 2+ dimensions (matmul weights and
    embeddings), none on biases and LayerNorm gains, as nanoGPT's ``configure_optimizers``.

    ``named_parameters()`` lists a tied weight (wte = lm_head) once, so it is updated once.
    """
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


def train(
    model: nn.Module,
    batches: Batches,
    config: TrainConfig | Any = None,
    maybe_config: TrainConfig | None = None,
    *,
    live_plot: bool = False,
    show_progress: bool = True,
    callback=None,
) -> TrainResult:
    """Train ``model`` on ``batches`` with ``config``; returns a :class:`TrainResult`.

    ``train(model, TokenStream(train_ids, val_ids, T), config)`` is the usual call;
    ``train(model, train_ids, val_ids, config)`` builds the TokenStream for you.
    ``live_plot=True`` draws the loss curve live in a notebook (nothing elsewhere).
    ``callback(step, loss)`` (optional) is called after each step.

    Reproducible: the batch sampler and dropout are seeded with ``config.seed``, so the
    same model initialisation and config give the same weights (same machine, same
    thread count).  The model's initialisation is the caller's: seed before building it.
    """
    if maybe_config is not None:  # the train(model, train_ids, val_ids, config) form
        config, batches = maybe_config, TokenStream(batches, config, maybe_config.block_size)
    if config is None:
        config = TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    if not hasattr(batches, "sample"):
        raise TypeError(
            "batches must have a .sample(split, batch_size, generator) method, e.g. "
            "TokenStream(train_ids, val_ids, block_size); or call train(model, train_ids, val_ids, config)."
        )
    model_block = getattr(getattr(model, "config", None), "block_size", None)
    if model_block is not None and config.block_size > model_block:
        raise ValueError(
            f"config.block_size ({config.block_size}) is longer than the model's context "
            f"({model_block}); use block_size <= {model_block}."
        )
    device = torch.device(config.device)
    model.to(device)
    model.train()
    torch.manual_seed(config.seed)  # dropout masks
    gen = torch.Generator().manual_seed(config.seed)  # batch positions
    optimizer = configure_optimizer(model, config)
    params = [p for p in model.parameters() if p.requires_grad]

    result = TrainResult(config=config.to_dict())
    plot = LiveLossPlot() if live_plot else None
    if plot is not None:  # fix the order (and so the colours) of the curves
        for name in ("train (one batch)", "train (evaluated)", "validation (held out)"):
            plot.series.setdefault(name, ([], []))

    def evaluate(step: int) -> dict:
        losses = estimate_loss(
            model, batches, config.batch_size, config.eval_iters, seed=config.seed + 1, device=device
        )
        record = {"step": step, "train_loss": losses["train"], "val_loss": losses["val"]}
        result.evals.append(record)
        if plot is not None:
            plot.add("train (evaluated)", step, losses["train"])
            plot.add("validation (held out)", step, losses["val"])
            plot.refresh(force=True)
        return record

    cpu0, wall0 = time.process_time(), time.perf_counter()
    eval_s = 0.0
    # A bar updated by hand: iterating over it would close it before the final evaluation.
    bar = progress_bar(total=config.max_iters, desc="training", disable=not show_progress)
    for step in range(config.max_iters):
        if step % config.eval_interval == 0:
            t = time.perf_counter()
            record = evaluate(step)
            eval_s += time.perf_counter() - t
            bar.set_postfix(train=f"{record['train_loss']:.3f}", val=f"{record['val_loss']:.3f}", refresh=False)

        lr = lr_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = batches.sample("train", config.batch_size, gen)  # (B, T), (B, T)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip, foreach=True)
        optimizer.step()

        loss_value = loss.item()
        result.steps.append(step)
        result.train_losses.append(loss_value)
        result.lrs.append(lr)
        result.tokens_seen += x.numel()
        if plot is not None:
            plot.add("train (one batch)", step, loss_value)
            plot.refresh()
        bar.update(1)
        if callback is not None:
            callback(step, loss_value)

    t = time.perf_counter()
    record = evaluate(config.max_iters)
    eval_s += time.perf_counter() - t
    bar.set_postfix(train=f"{record['train_loss']:.3f}", val=f"{record['val_loss']:.3f}", refresh=True)
    bar.close()
    if plot is not None:
        plot.finish()
    model.eval()

    result.wall_s = time.perf_counter() - wall0
    result.cpu_s = time.process_time() - cpu0
    result.train_s = max(result.wall_s - eval_s, 1e-9)
    result.tokens_per_s = result.tokens_seen / result.train_s
    return result


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------

CHECKPOINT_FORMAT = "llmlab-gpt"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class Checkpoint:
    """A trained model with its tokenizer and notes (``meta``: how it was trained)."""

    model: nn.Module
    tokenizer: CharTokenizer | BPETokenizer
    meta: dict

    @property
    def config(self):
        return self.model.config

    def encode(self, text: str) -> torch.Tensor:
        """``text`` -> a ``(1, T)`` tensor of ids on the model's device."""
        return torch.tensor([self.tokenizer.encode(text)], dtype=torch.long, device=self.model.lm_head.weight.device)


def save_checkpoint(directory, model: nn.Module, tokenizer, meta: dict | None = None) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``directory`` (created if needed).

    The tied embedding / output matrix is stored once (safetensors refuses shared
    tensors; ``safetensors.torch.save_model`` drops the duplicate name and
    ``load_model`` ties it again).  Weights are saved as float32 on the CPU.
    """
    from safetensors.torch import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = model.config.to_dict() if hasattr(model.config, "to_dict") else asdict(model.config)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": 1,
        "model": config,
        "tokenizer": tokenizer.to_dict(),
        "meta": meta or {},
    }
    device = next(model.parameters()).device
    model.to("cpu")
    try:
        tmp = directory / (WEIGHTS_FILE + ".tmp")
        save_model(model, str(tmp), metadata={"format": CHECKPOINT_FORMAT})
        os.replace(tmp, directory / WEIGHTS_FILE)
    finally:
        model.to(device)
    with open(directory / CONFIG_FILE, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return directory


def load_checkpoint(directory, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a folder written by :func:`save_checkpoint`; the model comes back in eval mode.

    Only JSON and safetensors are read: nothing is unpickled, so loading a checkpoint
    cannot run code.
    """
    from safetensors.torch import load_model

    from llmlab.gpt import GPT, GPTConfig

    directory = Path(directory)
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE) if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"No llmlab checkpoint in the folder {directory.name!r}: {', '.join(missing)} missing. "
            "A checkpoint is written by llmlab.training.save_checkpoint or `python -m llmlab train --out DIR`."
        )
    with open(directory / CONFIG_FILE, encoding="utf-8") as f:
        payload = json.load(f)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{CONFIG_FILE} in {directory.name!r} is not an llmlab checkpoint (format {payload.get('format')!r}).")
    model = GPT(GPTConfig.from_dict(payload["model"]))
    load_model(model, str(directory / WEIGHTS_FILE), strict=True, device=str(device))
    model.to(device)
    model.eval()
    return Checkpoint(model=model, tokenizer=tokenizer_from_dict(payload["tokenizer"]), meta=payload.get("meta", {}))


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


# ---------------------------------------------------------------------------
# The course model's recipe (scripts/train_course_model.py)
# ---------------------------------------------------------------------------

#: Shape of the shipped course model (char-level; vocab_size comes from the corpus).
#: Small enough that lesson 03 can show every head (4 x 4) and lesson 05 can fine-tune it on a CPU.
COURSE_GPT = dict(n_layer=4, n_head=4, n_embd=128, block_size=128, dropout=0.0, bias=True)

#: How the course model is trained on the embedded corpus ("wiki-news", last 10% held out).
COURSE_TRAIN = TrainConfig(
    max_iters=6000, batch_size=16, block_size=128, lr=2e-3, min_lr=2e-4, warmup_iters=100,
    weight_decay=0.1, beta1=0.9, beta2=0.99, grad_clip=1.0, eval_interval=500, eval_iters=10, seed=0,
    # The shipped checkpoint was trained with AdamW's foreach kernel; the fused one rounds
    # differently, so this stays as it was for the script to rebuild the same weights.
    fused_optimizer=False,
)

#: The course's quick recipe, for a live run in a lesson (lesson 04): the course model's layers on
#: 64-character windows, nanoGPT's CPU batch (12), twice its learning rate and 1,800 steps.
#: benchmarks/bench_training.py trains it next to nanoGPT's CPU recipe (the TrainConfig defaults:
#: same windows and batch, lr 1e-3, 2,000 steps) on the course corpus; benchmarks/RESULTS.md has
#: the measured losses and wall times.
QUICK_TRAIN = dataclasses.replace(
    COURSE_TRAIN, max_iters=1800, batch_size=12, block_size=64, warmup_iters=50, eval_interval=200,
    fused_optimizer=True,
)
