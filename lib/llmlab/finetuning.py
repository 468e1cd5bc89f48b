"""Instruction tuning (supervised fine-tuning) of the course's mini GPT (lesson 05).

Pre-training teaches a model to continue text; supervised fine-tuning (SFT)
teaches it a job, from examples of instructions and the wanted responses
(Ouyang et al. 2022, "Training language models to follow instructions with
human feedback", arXiv:2203.02155, step 1; Wei et al. 2022, FLAN).  This module
holds the pieces of lesson 05:

* an instruction data set, generated reproducibly from a seed: four kinds of
  short tasks a small character-level model can learn in minutes on a CPU,
  split into training and held-out examples that never overlap;
* the prompt template, in the style of Stanford Alpaca (Taori et al. 2023)
  ``### Instruction:`` / ``### Response:``;
* batches whose targets are the response only: every prompt position has the
  target -100, which the GPT's loss ignores, so the model is trained to answer,
  not to write instructions;
* greedy answering and exact-match accuracy per task kind;
* how far fine-tuning moved each layer, and the loss on the pre-training corpus
  (what the model forgot).

LoRA lives in :mod:`llmlab.lora`, the memory arithmetic in :mod:`llmlab.memory`.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from llmlab.errors import UsageError, check_int
from llmlab.generation import generate
from llmlab.gpt import GPT, IGNORE_INDEX  # the GPT's loss skips targets equal to this

# ---------------------------------------------------------------- the template
INSTRUCTION_HEADER = "### Instruction:\n"
RESPONSE_HEADER = "\n\n### Response:\n"
#: A response ends with a newline: the model learns to write it, and answering stops there.
END = "\n"


def format_prompt(instruction: str) -> str:
    """The prompt the model sees: ``### Instruction:\\n<instruction>\\n\\n### Response:\\n``."""
    return f"{INSTRUCTION_HEADER}{instruction}{RESPONSE_HEADER}"


@dataclass(frozen=True)
class Example:
    """One instruction and the response we want, with the kind of task it is."""

    kind: str
    instruction: str
    response: str

    @property
    def prompt(self) -> str:
        return format_prompt(self.instruction)

    @property
    def text(self) -> str:
        """Prompt, response and the end-of-response newline: what the model is trained on."""
        return self.prompt + self.response + END


# ---------------------------------------------------------------- the tasks
#: What each kind of task asks, and what "held-out" means for it.
TASK_KINDS: dict[str, str] = {
    "upper": "write a word in capitals (held-out: words never seen in fine-tuning)",
    "reverse": "spell a 3-5 letter word backwards (held-out: unseen words)",
    "pattern": "continue a repeating pattern of 2 or 3 words (held-out: patterns of unseen words)",
    "capital": (
        "name a country's capital from a small fact table (held-out: a known fact asked in a "
        "wording never paired with that country in training; a model cannot know a fact it was never shown)"
    ),
}

#: The fact table (country, capital): ASCII only, so every character is in the course model's vocabulary.
CAPITALS: tuple[tuple[str, str], ...] = (
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Egypt", "Cairo"),
    ("Peru", "Lima"),
    ("Kenya", "Nairobi"),
    ("Chile", "Santiago"),
    ("Cuba", "Havana"),
    ("Greece", "Athens"),
    ("Norway", "Oslo"),
    ("Russia", "Moscow"),
    ("China", "Beijing"),
    ("Canada", "Ottawa"),
    ("Germany", "Berlin"),
    ("Poland", "Warsaw"),
    ("Sweden", "Stockholm"),
    ("Ireland", "Dublin"),
    ("Austria", "Vienna"),
    ("Turkey", "Ankara"),
    ("Iran", "Tehran"),
    ("Portugal", "Lisbon"),
    ("Thailand", "Bangkok"),
    ("Finland", "Helsinki"),
)
#: Three wordings of the same question; each country has one of them held out.
CAPITAL_QUESTIONS: tuple[str, ...] = (
    "What is the capital of {}?",
    "Name the capital city of {}.",
    "{} has which capital?",
)

_INSTRUCTIONS = {
    "upper": "Write in capitals: {}",
    "reverse": "Reverse the letters: {}",
    "pattern": "Continue the pattern: {}",
}


def word_pool(
    text: str | None = None, min_len: int = 3, max_len: int = 6, min_count: int = 5
) -> list[str]:
    """Lower-case words of ``min_len``-``max_len`` letters seen at least ``min_count`` times in ``text``.

    ``text`` defaults to the course corpus (``llmlab.data.load_text("wiki-news")``), so the
    words are real English the model has read.  Sorted, so the pool is the same on every machine.
    """
    if text is None:
        from llmlab.data import load_text

        text = load_text("wiki-news")
    words = re.findall(rf"(?<![A-Za-z])[a-z]{{{min_len},{max_len}}}(?![A-Za-z])", text)
    counts = collections.Counter(words)
    return sorted(w for w, n in counts.items() if n >= min_count)


def split_words(
    words: Sequence[str], held_out_fraction: float = 0.2, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Shuffle ``words`` with ``seed`` and cut them into (training words, held-out words), disjoint."""
    if not 0 < held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must be between 0 and 1, got {held_out_fraction}.")
    pool = sorted(set(words))
    random.Random(seed).shuffle(pool)
    n_held = max(1, round(len(pool) * held_out_fraction))
    return sorted(pool[n_held:]), sorted(pool[:n_held])


def _word_examples(kind: str, words: Sequence[str], n: int, rng: random.Random) -> list[Example]:
    """``n`` distinct examples of a word task, drawn from ``words``."""
    out: dict[str, Example] = {}
    upto5, upto4 = [x for x in words if len(x) <= 5], [x for x in words if len(x) <= 4]
    tries = 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        if kind == "upper":
            w = rng.choice(words)
            ex = Example(kind, _INSTRUCTIONS[kind].format(w), w.upper())
        elif kind == "reverse":
            w = rng.choice(upto5)
            ex = Example(kind, _INSTRUCTIONS[kind].format(w), w[::-1])
        elif kind == "pattern":
            period = rng.choice((2, 3))
            cycle = rng.sample(upto4, period)
            shown = rng.randint(
                period + 1, 2 * period + 1
            )  # at least one full cycle and one repeat
            seq = [cycle[i % period] for i in range(shown + 1)]
            ex = Example(kind, _INSTRUCTIONS[kind].format(" ".join(seq[:-1])), seq[-1])
        else:
            raise ValueError(f"Unknown word task {kind!r}.")
        out.setdefault(ex.instruction, ex)
    return list(out.values())


def _capital_examples(seed: int) -> tuple[list[Example], list[Example]]:
    """All (country, wording) pairs; for each country the wording ``(i + seed) % 3`` is held out."""
    train: list[Example] = []
    held: list[Example] = []
    for i, (country, capital) in enumerate(CAPITALS):
        for j, question in enumerate(CAPITAL_QUESTIONS):
            ex = Example("capital", question.format(country), capital)
            (held if j == (i + seed) % len(CAPITAL_QUESTIONS) else train).append(ex)
    return train, held


@dataclass
class InstructionData:
    """Training and held-out examples, and the words each side was built from."""

    train: list[Example]
    held_out: list[Example]
    train_words: list[str] = field(repr=False)
    held_out_words: list[str] = field(repr=False)
    seed: int = 0

    def by_kind(self, split: str = "held_out") -> dict[str, list[Example]]:
        examples = self.train if split == "train" else self.held_out
        out: dict[str, list[Example]] = {k: [] for k in TASK_KINDS}
        for ex in examples:
            out[ex.kind].append(ex)
        return out

    def summary(self) -> list[dict[str, object]]:
        """One row per task kind: what it asks, and how many distinct training and held-out examples."""
        train, held = self.by_kind("train"), self.by_kind("held_out")
        return [
            {
                "kind": k,
                "task": TASK_KINDS[k],
                "train (distinct)": len({e.instruction for e in train[k]}),
                "held-out": len(held[k]),
            }
            for k in TASK_KINDS
        ]


def make_instruction_data(
    n_train: int = 3000, n_held_out: int = 50, seed: int = 0, words: Sequence[str] | None = None
) -> InstructionData:
    """The lesson's instruction data set, the same for the same arguments.

    Args:
        n_train: training examples per word task kind, at most (a kind stops at the number of
            distinct examples its training words allow: one per word for "upper" and "reverse").
            The 48 capital questions of the training side are repeated to ``n_train``.  Many
            distinct words matter: with a few hundred per kind the course model memorises
            training words instead of learning the rule that carries over to unseen ones.
        n_held_out: held-out examples per word task kind (capital: one per country, 24).
        seed: fixes which words are held out and which examples are drawn.
        words: the word pool (default: :func:`word_pool` of the course corpus).

    The word tasks draw training examples from the training words only and held-out
    examples from the held-out words only, so a held-out word was never seen in
    fine-tuning: getting it right means the model learned the *rule*.
    """
    check_int("n_train", n_train, minimum=1)
    check_int("n_held_out", n_held_out, minimum=1)
    check_int("seed", seed)
    train_words, held_words = split_words(words if words is not None else word_pool(), seed=seed)
    rng = random.Random(seed)
    train: list[Example] = []
    held: list[Example] = []
    for kind in ("upper", "reverse", "pattern"):
        train += _word_examples(kind, train_words, n_train, rng)
        held += _word_examples(kind, held_words, n_held_out, rng)
    cap_train, cap_held = _capital_examples(seed)
    train += [cap_train[i % len(cap_train)] for i in range(n_train)]
    held += cap_held
    rng.shuffle(train)
    return InstructionData(train, held, train_words, held_words, seed)


# ---------------------------------------------------------------- targets and batches


def encode_example(example: Example, tokenizer) -> tuple[list[int], int]:
    """Token ids of ``example.text`` and the number of prompt tokens at its start."""
    prompt_ids = tokenizer.encode(example.prompt)
    ids = tokenizer.encode(example.text)
    if ids[: len(prompt_ids)] != prompt_ids:  # a tokenizer that merges across the boundary
        raise ValueError(
            "The tokenizer encodes the prompt differently inside the full text; use a character tokenizer."
        )
    return ids, len(prompt_ids)


def sft_inputs_and_targets(ids: Sequence[int], n_prompt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token inputs and targets with the prompt masked out.

    ``x = ids[:-1]``, ``y = ids[1:]``; ``y[t]`` is the token after position ``t``.  The
    targets that are prompt tokens (``y[: n_prompt - 1]``) become -100, so the loss
    counts only the response and its end-of-response newline.  Returns two ``(len(ids) - 1,)``
    long tensors.
    """
    t = torch.as_tensor(list(ids), dtype=torch.long)
    if not 1 <= n_prompt < len(t):
        raise ValueError(
            f"n_prompt must be between 1 and len(ids) - 1 = {len(t) - 1}, got {n_prompt}."
        )
    x, y = t[:-1].clone(), t[1:].clone()
    y[: n_prompt - 1] = IGNORE_INDEX
    return x, y


class InstructionBatches:
    """Padded SFT batches for ``llmlab.training.train``: ``sample(split, batch_size, generator) -> (x, y)``.

    Every example becomes one row of length ``L`` (the longest example, at most the
    model's ``block_size``): inputs padded with the newline token, targets with -100,
    so the padding neither leaks into earlier positions (the model is causal) nor
    counts in the loss.  ``split`` is ``"train"`` or ``"val"`` (the held-out examples).
    """

    def __init__(self, data: InstructionData, tokenizer, block_size: int | None = None):
        self.tokenizer = tokenizer
        self.tensors = {
            "train": self._stack(data.train, tokenizer, block_size),
            "val": self._stack(data.held_out, tokenizer, block_size),
        }
        #: the longest row ``sample`` hands out (``L``), which ``train`` checks against the model
        self.block_size = max(x.size(1) for x, _ in self.tensors.values())

    @staticmethod
    def _stack(
        examples: Sequence[Example], tokenizer, block_size: int | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [sft_inputs_and_targets(*encode_example(ex, tokenizer)) for ex in examples]
        length = max(len(x) for x, _ in pairs)
        if block_size is not None and length > block_size:
            raise ValueError(
                f"The longest example needs {length} positions, more than block_size={block_size}."
            )
        pad = tokenizer.encode(END)[0]
        X = torch.full((len(pairs), length), pad, dtype=torch.long)  # (N, L)
        Y = torch.full((len(pairs), length), IGNORE_INDEX, dtype=torch.long)  # (N, L)
        for i, (x, y) in enumerate(pairs):
            X[i, : len(x)] = x
            Y[i, : len(y)] = y
        return X, Y

    def __len__(self) -> int:
        return len(self.tensors["train"][0])

    def sample(self, split: str, batch_size: int, generator: torch.Generator | None = None):
        """A random batch ``(x (B, L), y (B, L))`` of ``split`` ("train" or "val")."""
        if split not in self.tensors:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}.")
        X, Y = self.tensors[split]
        rows = torch.randint(len(X), (batch_size,), generator=generator)
        x, y = X[rows], Y[rows]  # (B, L)
        # drop the columns that are padding in every row: less work, the same loss
        length = int((y != IGNORE_INDEX).any(0).nonzero().max()) + 1
        return x[:, :length], y[:, :length]


def loss_mask_view(example: Example, tokenizer) -> list[tuple[str, bool]]:
    """``(character, carries loss)`` for each token of ``example.text``: what the highlighted view shows.

    The first token never is a target; a token carries the loss when it is a target
    that is not -100, i.e. part of the response (or its end-of-response newline).
    """
    ids, n_prompt = encode_example(example, tokenizer)
    _, y = sft_inputs_and_targets(ids, n_prompt)
    flags = [False] + [bool(t != IGNORE_INDEX) for t in y.tolist()]
    return [(tokenizer.decode([i]), f) for i, f in zip(ids, flags, strict=True)]


# ---------------------------------------------------------------- answering and scoring
@torch.no_grad()
def responses(
    model: GPT,
    tokenizer,
    instructions: Sequence[str],
    max_new_tokens: int = 16,
    n_samples: int = 1,
    temperature: float = 0.0,
    seed: int = 0,
) -> list[list[str]]:
    """``n_samples`` answers of ``model`` to each instruction, cut at the end-of-response newline.

    Prompts of equal length are decoded together, ``n_samples`` rows each, one batch per
    length, with the GPT's KV cache. ``temperature=0`` is greedy (always the most likely next
    character: deterministic); above 0 the answers are sampled, one seed per length group
    (``seed + length``), so the result is reproducible.
    """
    if isinstance(instructions, str):
        raise UsageError("Pass a list of instructions; for one, pass [instruction].")
    check_int("max_new_tokens", max_new_tokens, minimum=0)
    check_int("n_samples", n_samples, minimum=1)
    was_training = model.training
    model.eval()
    end_id = tokenizer.encode(END)[0]
    prompts = [tokenizer.encode(format_prompt(s)) for s in instructions]
    groups: dict[int, list[int]] = collections.defaultdict(list)
    for i, p in enumerate(prompts):
        groups[len(p)].append(i)
    out: list[list[str]] = [[] for _ in prompts]
    device = next(model.parameters()).device
    for length, members in sorted(groups.items()):
        steps = min(max_new_tokens, model.config.block_size - length)
        rows = [prompts[i] for i in members for _ in range(n_samples)]
        idx = torch.tensor(rows, device=device)  # (b * n_samples, T)
        new = generate(model, idx, steps, temperature=temperature, seed=seed + length)
        for r, ids in enumerate(new[:, length:].tolist()):  # (b * n_samples, steps)
            ids = ids[: ids.index(end_id)] if end_id in ids else ids
            out[members[r // n_samples]].append(tokenizer.decode(ids))
    model.train(was_training)
    return out


def answer(
    model: GPT, tokenizer, instructions: Sequence[str], max_new_tokens: int = 16
) -> list[str]:
    """The model's greedy answer to each instruction (see :func:`responses`)."""
    return [r[0] for r in responses(model, tokenizer, instructions, max_new_tokens)]


@dataclass
class Evaluation:
    """Exact-match results: one row per example, and the accuracy per task kind."""

    rows: list[dict[str, object]]

    def accuracy(self) -> dict[str, float]:
        """Fraction of exact matches per kind, plus "all" (the mean over examples)."""
        out: dict[str, list[bool]] = collections.defaultdict(list)
        for r in self.rows:
            out[str(r["kind"])].append(bool(r["correct"]))
            out["all"].append(bool(r["correct"]))
        return {k: sum(v) / len(v) for k, v in out.items()}

    def examples(self, kind: str, correct: bool, n: int = 3) -> list[dict[str, object]]:
        return [r for r in self.rows if r["kind"] == kind and bool(r["correct"]) == correct][:n]


def evaluate(
    model: GPT, tokenizer, examples: Sequence[Example], max_new_tokens: int = 16
) -> Evaluation:
    """Exact-match accuracy of the model's greedy answers: right only if every character matches."""
    got = answer(model, tokenizer, [e.instruction for e in examples], max_new_tokens=max_new_tokens)
    return Evaluation(
        [
            {
                "kind": e.kind,
                "instruction": e.instruction,
                "expected": e.response,
                "answer": g,
                "correct": g == e.response,
            }
            for e, g in zip(examples, got, strict=True)
        ]
    )


# ---------------------------------------------------------------- what changed
@torch.no_grad()
def weight_change(before: nn.Module, after: nn.Module) -> list[dict[str, object]]:
    """Relative change ``||W_after - W_before|| / ||W_before||`` of every weight matrix and embedding.

    Rows in model order: ``name``, ``layer`` (the block index, or "embeddings"/"final"),
    ``relative change``.  Both models must have the same parameter names (merge LoRA first).
    """
    old = dict(before.named_parameters())
    rows = []
    for name, p in after.named_parameters():
        if p.dim() < 2 or name not in old:
            continue  # biases and LayerNorm gains: vectors, left out to keep the picture readable
        m = re.search(r"\.h\.(\d+)\.", name)
        layer = (
            f"block {m.group(1)}"
            if m
            else ("embeddings" if "wte" in name or "wpe" in name else "final")
        )
        change = (p - old[name]).norm() / old[name].norm().clamp_min(1e-12)
        rows.append({"name": name, "layer": layer, "relative change": float(change)})
    return rows


@torch.no_grad()
def corpus_loss(
    model: nn.Module,
    ids: torch.Tensor,
    block_size: int,
    n_batches: int = 8,
    batch_size: int = 16,
    seed: int = 0,
) -> float:
    """Mean next-character loss (nats) on random windows of a token stream ``ids (N,)``: the same windows every call.

    ``training.estimate_loss`` on ``n_batches`` batches of ``(batch_size, block_size)`` windows of ``ids``.
    """
    from llmlab.training import TokenStream, estimate_loss

    stream = TokenStream(ids, ids, block_size)
    device = next(model.parameters()).device
    return estimate_loss(
        model, stream, batch_size, n_batches, seed, splits=("val",), device=device
    )["val"]


# ---------------------------------------------------------------- forgetting less: pretraining text in the batches
class MixedBatches:
    """Instruction batches with ``prose_rows`` windows of pre-training text added to every training batch.

    InstructGPT's "PPO-ptx" models mix pre-training gradients into the later fine-tuning
    updates to limit what the model forgets of its pre-training (Ouyang et al. 2022,
    section 3.5).  Here the mixing is simpler: each training batch of ``batch_size``
    instruction rows ``(B, L)`` gets ``prose_rows`` windows of the pre-training split,
    cut to the same length ``L``, whose every position is a target; the mean loss then
    covers both.  One window carries about as many targets as 16 responses (a response
    is about 6 characters).  The "val" split stays instructions only, so validation
    curves compare with plain fine-tuning.
    """

    def __init__(self, instructions: InstructionBatches, prose, prose_rows: int = 1):
        if prose_rows < 0:
            raise ValueError(f"prose_rows must be >= 0, got {prose_rows}.")
        self.instructions, self.prose, self.prose_rows = instructions, prose, int(prose_rows)
        self.block_size = instructions.block_size  # prose windows are cut to the instruction rows

    def sample(self, split: str, batch_size: int, generator: torch.Generator | None = None):
        """``(x, y)``: ``(batch_size + prose_rows, L)`` for "train", ``(batch_size, L)`` for "val"."""
        x, y = self.instructions.sample(split, batch_size, generator)  # (B, L)
        if split != "train" or self.prose_rows == 0:
            return x, y
        px, py = self.prose.sample("train", self.prose_rows, generator)  # (p, block_size)
        length = x.size(1)
        if px.size(1) < length:
            raise ValueError(
                f"The prose windows ({px.size(1)} tokens) are shorter than the instruction rows ({length})."
            )
        return torch.cat([x, px[:, :length]]), torch.cat([y, py[:, :length]])  # (B + p, L)


# ---------------------------------------------------------------- the recipes of the shipped runs
def _recipes():
    from llmlab.configs import SFT_TRAIN as sft
    from llmlab.lora import ALL_LINEAR_TARGETS

    return {
        # step 1 of InstructGPT on the course model: every weight trains
        "full": {"train": sft, "lora": None, "prose_rows": 0},
        # the same run with one window of pre-training text in every batch: forgets less
        "mixed": {"train": sft, "lora": None, "prose_rows": 1},
        # LoRA on every linear layer; the adapters start at zero and learn more slowly, so twice the steps
        "lora": {
            "train": dataclasses.replace(sft, max_iters=2 * sft.max_iters),
            "prose_rows": 0,
            "lora": {"r": 8, "alpha": 16.0, "targets": list(ALL_LINEAR_TARGETS)},
        },
    }


#: Lesson 05's three fine-tuning runs (``scripts/train_finetuned_models.py`` builds them into
#: ``data/<SHIPPED[name]>``): the TrainConfig, the LoRA set-up (or None) and the prose rows per batch.
RECIPES: dict[str, dict] = _recipes()
#: Folder of each shipped run inside the course data folder.
SHIPPED: dict[str, str] = {"full": "sft-full", "mixed": "sft-mixed", "lora": "sft-lora"}


def recipe_batches(
    recipe: dict, data: InstructionData, tokenizer, block_size: int, corpus_train_ids=None
):
    """The batches a recipe trains on: instructions, plus pre-training windows if it mixes them in."""
    batches = InstructionBatches(data, tokenizer, block_size=block_size)
    if not recipe["prose_rows"]:
        return batches
    from llmlab.training import TokenStream

    if corpus_train_ids is None:
        raise ValueError(
            "This recipe mixes in pre-training text: pass corpus_train_ids (the corpus' training split)."
        )
    ids = torch.as_tensor(corpus_train_ids)
    return MixedBatches(
        batches, TokenStream(ids, ids[-(block_size + 2) :], block_size), recipe["prose_rows"]
    )


def finetune(
    base: nn.Module, batches, recipe: dict, *, live_plot: bool = False, show_progress: bool = True
):
    """Fine-tune a copy of ``base`` with ``recipe`` (one of :data:`RECIPES`): ``(model, TrainResult)``.

    ``base`` is left as it was.  With a LoRA recipe the copy is frozen and adapters are
    added first (:func:`llmlab.lora.apply_lora`); the adapters stay unmerged.
    """
    import copy

    from llmlab import lora
    from llmlab.training import train

    model = copy.deepcopy(base)
    if recipe.get("lora"):
        lora.apply_lora(model, **recipe["lora"])
    result = train(
        model, batches, recipe["train"], live_plot=live_plot, show_progress=show_progress
    )
    return model, result


def run_recipe(
    name: str,
    base: GPT,
    data: InstructionData,
    tokenizer,
    corpus_train_ids=None,
    *,
    max_iters: int | None = None,
    show_progress: bool = True,
):
    """Train the shipped run ``name`` of :data:`RECIPES` from ``base``: ``(model, TrainResult)``.

    What ``scripts/train_finetuned_models.py`` runs and what lesson 05 runs with
    ``FULL_RUN = True``: on the same machine, thread count and torch version, two runs give
    the same weights bit for bit.  ``max_iters`` shortens it (quick checks only).
    """
    recipe = RECIPES[name]
    if max_iters:
        recipe = {**recipe, "train": dataclasses.replace(recipe["train"], max_iters=max_iters)}
    batches = recipe_batches(recipe, data, tokenizer, base.config.block_size, corpus_train_ids)
    torch.manual_seed(recipe["train"].seed)  # the LoRA adapters' random A matrices
    return finetune(base, batches, recipe, show_progress=show_progress)


def shipped_or_retrained(
    base: GPT,
    data: InstructionData,
    tokenizer,
    corpus_train_ids,
    retrain: bool = False,
    names=tuple(SHIPPED),
) -> tuple[dict, dict]:
    """Lesson 05's long runs: ``({name: model}, {name: train log})``, loaded from ``data/`` or retrained.

    A train log is what :func:`llmlab.model_card.train_log` writes: ``summary`` (steps, losses,
    wall time), ``evals`` and every step's ``train_losses``.  ``retrain=True`` trains each
    recipe here (minutes on a CPU) instead of loading the shipped files.
    """
    from llmlab import model_card

    models, logs = {}, {}
    for name in names:
        if retrain:
            models[name], result = run_recipe(name, base, data, tokenizer, corpus_train_ids)
            models[name].eval()
            logs[name] = model_card.train_log(result)
        else:
            models[name] = load_shipped(name, base=base, device=next(base.parameters()).device)
            logs[name] = model_card.read_train_log(shipped_dir(name))
    return models, logs


# ---------------------------------------------------------------- LoRA adapters as a checkpoint
LORA_FORMAT = "llmlab-lora"
ADAPTERS_FILE = "adapters.safetensors"


def save_lora_adapters(
    directory, model: nn.Module, lora_config: dict, meta: dict | None = None
) -> Path:
    """Write only the adapters of ``model`` (every ``lora_A``/``lora_B``) and how to apply them.

    ``adapters.safetensors`` holds the tensors; ``config.json`` holds ``lora_config``
    (``r``, ``alpha``, ``targets``) and ``meta`` (which base model, how it was trained).
    Both files are written through a temporary file.
    """
    from safetensors.torch import save_file

    from llmlab.model_card import write_json_atomic

    tensors = {
        n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if "lora_" in n
    }
    if not tensors:
        raise ValueError("This model has no LoRA adapters (llmlab.lora.apply_lora adds them).")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (ADAPTERS_FILE + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": LORA_FORMAT})
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as any other new file (safetensors makes it 0600)
    os.replace(tmp, directory / ADAPTERS_FILE)
    write_json_atomic(
        directory / "config.json",
        {"format": LORA_FORMAT, "format_version": 1, "lora": lora_config, "meta": meta or {}},
    )
    return directory


def load_lora_adapters(model: nn.Module, directory) -> nn.Module:
    """Add the adapters saved in ``directory`` to ``model`` (in place; pass a copy to keep the base).

    The model must have the shape the adapters were trained on: every saved tensor must
    find a LoRA parameter of the same name and shape, and every LoRA parameter a tensor.
    Only JSON and safetensors are read (nothing is unpickled).
    """
    import json

    from safetensors.torch import load_file

    from llmlab import lora

    directory = Path(directory)
    config_path, weights_path = directory / "config.json", directory / ADAPTERS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise FileNotFoundError(
            f"No LoRA adapters in {directory.name!r}: config.json and {ADAPTERS_FILE} are needed."
        )
    payload = json.loads(config_path.read_text(encoding="utf-8"))
    if payload.get("format") != LORA_FORMAT:
        raise ValueError(
            f"config.json in {directory.name!r} is not an llmlab LoRA checkpoint (format {payload.get('format')!r})."
        )
    lora.apply_lora(model, **payload["lora"])
    saved = load_file(str(weights_path))
    params = {n: p for n, p in model.named_parameters() if "lora_" in n}
    if set(saved) != set(params):
        raise ValueError(
            f"The adapters in {directory.name!r} do not fit this model: "
            f"{len(set(saved) ^ set(params))} adapter names differ (another base model?)."
        )
    with torch.no_grad():
        for name, p in params.items():
            if saved[name].shape != p.shape:
                raise ValueError(
                    f"Adapter {name} has shape {tuple(saved[name].shape)}, the model needs {tuple(p.shape)}."
                )
            p.copy_(saved[name])
    return model


def load_shipped(
    name: str, base: nn.Module | None = None, device: str | torch.device = "cpu"
) -> nn.Module:
    """A shipped fine-tuned model of lesson 05 (``"full"``, ``"mixed"`` or ``"lora"``), in eval mode.

    ``"lora"`` adds the shipped adapters to a copy of ``base`` (the course model; loaded if None).
    The curves of the run are in ``llmlab.model_card.read_train_log(shipped_dir(name))``.
    """
    import copy

    from llmlab.training import load_checkpoint, load_course_model

    directory = shipped_dir(name)
    if RECIPES[name].get("lora"):
        base = base if base is not None else load_course_model(device=device).model
        model = load_lora_adapters(copy.deepcopy(base), directory)
    else:
        model = load_checkpoint(directory, device=device).model
    return model.to(device).eval()


def shipped_dir(name: str) -> Path:
    """``data/<SHIPPED[name]>``: the folder of a shipped run, with a clear error for an unknown name."""
    from llmlab.paths import data_dir

    if name not in SHIPPED:
        raise ValueError(
            f"Unknown fine-tuning run {name!r}; the shipped ones are {', '.join(SHIPPED)}."
        )
    return data_dir() / SHIPPED[name]
