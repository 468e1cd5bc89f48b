"""The course's model shapes and training recipes, in one place (lessons 02-07, scripts/, benchmarks/).

Every checkpoint the course ships in ``data/`` was trained with one of these; its
``MODEL_CARD.md`` records the run. A shape is a dict of ``GPTConfig`` fields without the
vocabulary (it comes from the tokenizer): ``GPTConfig(vocab_size=V, **COURSE_GPT)``. Its
``block_size`` is the model's context, and the windows it trains on are that long
(``TokenStream(train_ids, val_ids, model.config.block_size)``).
"""

from __future__ import annotations

import dataclasses
from typing import TypedDict

from llmlab.training import TrainConfig


class GPTShape(TypedDict, total=False):
    """``GPTConfig`` fields without the vocabulary: a model's shape, ``GPTConfig(vocab_size=V, **shape)``."""

    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float
    bias: bool
    gelu_approximate: str


class LlamaShape(GPTShape, total=False):
    """``LlamaConfig`` fields without the vocabulary (its extra fields on top of a ``GPTShape``)."""

    n_kv_head: int
    tie_embeddings: bool


# ----------------------------------------------------------------------------------------------
# The course model, data/mini-gpt (lessons 02, 03, 04, 05; scripts/train_course_model.py)

#: Shape of the shipped course model (char-level). Small enough that lesson 03 can show every
#: head (4 x 4) and lesson 05 can fine-tune it on a CPU.
COURSE_GPT: GPTShape = dict(n_layer=4, n_head=4, n_embd=128, block_size=128, dropout=0.0, bias=True)

#: How the course model is trained on the embedded corpus ("wiki-news", last 10% held out).
COURSE_TRAIN = TrainConfig(
    max_iters=6000,
    batch_size=16,
    lr=2e-3,
    min_lr=2e-4,
    warmup_iters=100,
    weight_decay=0.1,
    beta1=0.9,
    beta2=0.99,
    grad_clip=1.0,
    eval_interval=500,
    eval_iters=10,
    seed=0,
    # The shipped checkpoint was trained with AdamW's foreach kernel; the fused one rounds
    # differently, so this stays foreach for the script to rebuild the same weights.
    fused_optimizer=False,
)

#: The course's quick recipe, for a live run in lesson 04: the course model's layers with a
#: 64-character context (QUICK_GPT), nanoGPT's CPU batch (12), twice its learning rate and 1,800
#: steps. benchmarks/bench_training.py trains it next to nanoGPT's CPU recipe (the TrainConfig
#: defaults: same windows and batch, lr 1e-3, 2,000 steps) on the course corpus;
#: benchmarks/RESULTS.md has the measured losses and wall times.
QUICK_GPT: GPTShape = {**COURSE_GPT, "block_size": 64}
QUICK_TRAIN = dataclasses.replace(
    COURSE_TRAIN,
    max_iters=1800,
    batch_size=12,
    warmup_iters=50,
    eval_interval=200,
    fused_optimizer=True,
)

#: The CPU speedrun's recipe (lesson 04 trains it live): nanoGPT's CPU shape (4 layers, 4 heads,
#: 128 wide, 64-character context, exact GELU) trained with Muon on the hidden matrices, reaching
#: the validation loss of nanoGPT's 2,000-iteration CPU recipe in a fraction of its time.
#: benchmarks/bench_training.py measures it against nanoGPT in the same run, lever by lever
#: (benchmarks/RESULTS.md, "Speedrun"). Muon's Newton-Schulz runs in bfloat16 only where a timed pass shows
#: it clearly faster on this machine (``llmlab.speedups.bf16_newton_schulz_pays``); else float32.
SPEEDRUN_GPT: GPTShape = {**QUICK_GPT, "gelu_approximate": "none"}
SPEEDRUN_TRAIN = TrainConfig(
    max_iters=400,
    batch_size=16,
    lr=3e-3,
    min_lr=3e-4,
    warmup_iters=30,
    optimizer="muon",
    muon_lr=0.02,
    muon_bf16=True,
    eval_interval=100,
)

# ----------------------------------------------------------------------------------------------
# Lesson 05's fine-tuning runs (llmlab.finetuning.RECIPES; scripts/train_finetuned_models.py)

#: Supervised fine-tuning of the course model on the instruction data (each recipe's base).
SFT_TRAIN = TrainConfig(
    max_iters=600,
    batch_size=16,
    lr=3e-3,
    min_lr=3e-4,
    warmup_iters=20,
    weight_decay=0.0,
    eval_interval=100,
    eval_iters=4,
)

# ----------------------------------------------------------------------------------------------
# Lesson 06's encoder/decoder pair (llmlab.objectives; scripts/train_family_models.py)

#: Both models' shape: 2 blocks of 4 heads, 64 wide, 16-character windows (lesson 06 says why so short).
FAMILY_GPT: GPTShape = dict(block_size=16, n_layer=2, n_head=4, n_embd=64)

#: The pair's recipe: 3,000 steps of 32 windows, lr 3e-3 with cosine decay to 3e-4.
FAMILY_TRAIN = TrainConfig(
    max_iters=3000,
    batch_size=32,
    lr=3e-3,
    min_lr=3e-4,
    warmup_iters=30,
    eval_interval=500,
    eval_iters=5,
)

# ----------------------------------------------------------------------------------------------
# Lesson 07's LLaMA-style model, data/mini-llama (scripts/train_llama_model.py)

#: The LLaMA-style course model (``llmlab.llama.LlamaConfig`` fields): the GPT's layers, heads,
#: width and context; multi-head attention (n_kv_head = n_head, as LLaMA 2 7B and 13B), an untied
#: head (as LLaMA), SwiGLU width 352.
COURSE_LLAMA: LlamaShape = dict(
    n_layer=4, n_head=4, n_embd=128, block_size=128, n_kv_head=4, tie_embeddings=False
)
