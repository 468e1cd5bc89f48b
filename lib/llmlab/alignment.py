"""From an instruction-following model to a preference-tuned one (lesson 09): pairs, a reward model, DPO.

InstructGPT (Ouyang et al. 2022, arXiv:2203.02155) trains in three steps: supervised
fine-tuning (lesson 05, :mod:`llmlab.finetuning`), a reward model trained on people's
comparisons of two answers, and reinforcement learning (PPO) against that reward.
Direct Preference Optimization (DPO; Rafailov et al. 2023, arXiv:2305.18290) learns
from the same comparisons without the reward model or the RL loop.  This module
holds the pieces, on the course's mini GPT and lesson 05's instruction tasks:

* **a rule that prefers one answer to another**, which a learner can check by hand
  (:func:`rule_score`): the right answer beats an answer of the right *form* (capital
  letters, the same letters, a word of the pattern, a capital city), which beats
  anything else.  It stands in for the human labellers;
* **preference pairs** ``(prompt, chosen, rejected)``: the fine-tuned model answers
  each new prompt (:func:`new_prompts`) greedily and by sampling, and the rule ranks its
  answers (:func:`make_pairs`): its most frequent mistake against the right answer, as
  InstructGPT's labellers ranked the model's outputs;
* **a reward model**: the course GPT with a scalar head (:class:`RewardModel`),
  trained with the Bradley-Terry loss (:func:`bradley_terry_loss`) and scored by its
  accuracy on held-out pairs (:func:`reward_accuracy`);
* **the DPO loss** (:func:`dpo_loss`) against a frozen reference model, on the
  response's log-probability (:func:`sequence_logprobs`, prompt tokens masked out),
  with the DPO-Positive penalty as an option (Pal et al. 2024): on pairs that differ in a
  character or two, plain DPO lowered the right answers' probability along with the
  mistakes', and only DPOP raised the held-out rate (the shipped recipe, :data:`RECIPES`);
* **how far the tuned model drifted**: the mean per-token KL divergence from the
  reference on the responses (:func:`response_kl`).

The training loops here are short and written out (AdamW, clipped gradients, a
NaN check); the shipped runs are built by ``scripts/train_preference_models.py``.
"""

from __future__ import annotations

import collections
import copy
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from llmlab.errors import NonFiniteLossError, UsageError, check_int, check_real
from llmlab.finetuning import CAPITALS, END, TASK_KINDS, Example, responses
from llmlab.gpt import GPT

# ---------------------------------------------------------------- the rule
#: What an answer of the right *form* looks like for each task kind (score 1 of :func:`rule_score`).
FORM: dict[str, str] = {
    "upper": "capital letters only, as many as the word has",
    "reverse": "the word's own letters, in some order",
    "pattern": "one of the words of the pattern",
    "capital": "the name of a capital city from the fact table",
}
_CAPITAL_CITIES = frozenset(city for _, city in CAPITALS)


def _subject(example: Example) -> str:
    """The word or pattern an instruction is about: the text after its ``": "`` (word tasks only)."""
    return example.instruction.split(": ", 1)[1]


def rule_score(example: Example, answer: str) -> int:
    """How much the rule likes ``answer`` to ``example``: 2 right, 1 right form (see :data:`FORM`), 0 neither.

    >>> from llmlab.finetuning import Example
    >>> ex = Example("upper", "Write in capitals: cat", "CAT")
    >>> rule_score(ex, "CAT"), rule_score(ex, "CAR"), rule_score(ex, "cat")
    (2, 1, 0)
    """
    if not isinstance(example, Example):
        raise UsageError(
            f"rule_score needs an llmlab.finetuning.Example, got {type(example).__name__}."
        )
    if not isinstance(answer, str):
        raise UsageError(f"answer must be a string, got {type(answer).__name__}.")
    if answer == example.response:
        return 2
    kind = example.kind
    if kind == "upper":
        word = _subject(example)
        ok = len(answer) == len(word) and answer.isalpha() and answer.isupper()
    elif kind == "reverse":
        ok = sorted(answer) == sorted(_subject(example))
    elif kind == "pattern":
        ok = answer in _subject(example).split()
    elif kind == "capital":
        ok = answer in _CAPITAL_CITIES
    else:
        raise UsageError(f"Unknown task kind {kind!r}; the rule knows {', '.join(FORM)}.")
    return int(ok)


def prefers(example: Example, a: str, b: str) -> bool:
    """True if the rule prefers answer ``a`` to answer ``b`` (a strictly higher :func:`rule_score`)."""
    return rule_score(example, a) > rule_score(example, b)


# ---------------------------------------------------------------- preference pairs
@dataclass(frozen=True)
class PreferencePair:
    """One comparison: for ``example``'s prompt the rule prefers ``chosen`` to ``rejected``."""

    example: Example
    chosen: str
    rejected: str

    @property
    def prompt(self) -> str:
        return self.example.prompt


@torch.no_grad()
def sample_answers(
    model: GPT,
    tokenizer,
    instructions: Sequence[str],
    n_samples: int = 4,
    temperature: float = 1.0,
    max_new_tokens: int = 12,
    seed: int = 0,
) -> list[list[str]]:
    """``n_samples`` sampled answers of ``model`` to each instruction (``finetuning.responses``)."""
    check_real("temperature", temperature, minimum=0.0, open_min=True)
    return responses(model, tokenizer, instructions, max_new_tokens, n_samples, temperature, seed)


def make_pairs(
    model: GPT,
    tokenizer,
    examples: Sequence[Example],
    n_samples: int = 4,
    temperature: float = 1.0,
    seed: int = 0,
) -> list[PreferencePair]:
    """Preference pairs from ``model``'s own answers, ranked by :func:`rule_score`.

    For each example the model answers greedily (its most likely answer) and ``n_samples``
    times by sampling.  ``rejected`` is the mistake it makes most: its greedy answer if that
    is wrong, else its most frequent wrong sample (ties: the lower-scored one).  ``chosen`` is
    the right response: a right answer the rule confirms, which a labeller would prefer.
    A prompt whose answers are all right gives no pair: there is nothing to prefer.
    """
    from llmlab.finetuning import answer

    if not examples:
        raise UsageError("make_pairs needs at least one example.")
    instructions = [e.instruction for e in examples]
    greedy = answer(model, tokenizer, instructions)
    samples = sample_answers(model, tokenizer, instructions, n_samples, temperature, seed=seed)
    pairs = []
    for ex, first, answers in zip(examples, greedy, samples, strict=True):
        if rule_score(ex, first) < 2:
            pairs.append(PreferencePair(ex, ex.response, first))
            continue
        wrong = collections.Counter(a for a in answers if rule_score(ex, a) < 2)
        if wrong:
            rejected = min(wrong, key=lambda a: (-wrong[a], rule_score(ex, a), a))
            pairs.append(PreferencePair(ex, ex.response, rejected))
    return pairs


def pair_table(pairs: Sequence[PreferencePair]) -> list[dict[str, object]]:
    """Per task kind: number of pairs, and how many rejected answers had the right form (score 1)."""
    out: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for p in pairs:
        out[p.example.kind][0] += 1
        out[p.example.kind][1] += rule_score(p.example, p.rejected) == 1
    return [{"kind": k, "pairs": n, "rejected of the right form": f} for k, (n, f) in out.items()]


# ---------------------------------------------------------------- pairs as tensors
@dataclass
class PairTensors:
    """Pairs as padded token rows: prompt + answer + end-of-response newline, padded with newlines.

    ``chosen``, ``rejected``: ``(N, L)`` token ids.  ``chosen_mask``, ``rejected_mask``:
    ``(N, L - 1)`` bool, True where the *target* ``ids[:, t + 1]`` is a response token (the
    answer or its end newline): the positions whose log-probability counts.
    """

    chosen: torch.Tensor
    rejected: torch.Tensor
    chosen_mask: torch.Tensor
    rejected_mask: torch.Tensor

    def __len__(self) -> int:
        return len(self.chosen)

    def rows(self, index: torch.Tensor) -> PairTensors:
        """The pairs ``index``, cut after the last column any of them uses (less work, same log-probs)."""
        c, r, cm, rm = (t[index] for t in asdict_tensors(self))
        used = int((cm | rm).any(0).nonzero().max()) + 2  # last counted target t -> ids up to t + 1
        return PairTensors(c[:, :used], r[:, :used], cm[:, : used - 1], rm[:, : used - 1])

    def to(self, device) -> PairTensors:
        return PairTensors(*(t.to(device) for t in asdict_tensors(self)))


def asdict_tensors(p: PairTensors) -> tuple[torch.Tensor, ...]:
    return p.chosen, p.rejected, p.chosen_mask, p.rejected_mask


def encode_answer(prompt_ids: Sequence[int], answer_ids: Sequence[int], length: int, pad: int):
    """One padded row ``ids (length,)`` and its target mask ``(length - 1,)`` (True on the answer's targets)."""
    ids = list(prompt_ids) + list(answer_ids)
    if len(ids) > length:
        raise UsageError(
            f"A prompt and answer of {len(ids)} tokens do not fit a row of {length}; shorten the answer."
        )
    row = torch.full((length,), pad, dtype=torch.long)
    row[: len(ids)] = torch.tensor(ids)
    mask = torch.zeros(length - 1, dtype=torch.bool)
    mask[len(prompt_ids) - 1 : len(ids) - 1] = True  # target t + 1 is an answer token
    return row, mask


def pair_tensors(pairs: Sequence[PreferencePair], tokenizer, block_size: int) -> PairTensors:
    """Encode ``pairs`` (each answer followed by the end-of-response newline) into :class:`PairTensors`."""
    if not pairs:
        raise UsageError("pair_tensors needs at least one pair (make_pairs made none?).")
    pad = tokenizer.encode(END)[0]
    encoded = [
        (
            tokenizer.encode(p.prompt),
            tokenizer.encode(p.chosen + END),
            tokenizer.encode(p.rejected + END),
        )
        for p in pairs
    ]
    length = max(len(pr) + max(len(c), len(r)) for pr, c, r in encoded)
    if length > block_size:
        raise UsageError(
            f"The longest pair needs {length} positions, more than block_size={block_size}."
        )
    cols: list[list[torch.Tensor]] = [[], [], [], []]
    for pr, c, r in encoded:
        for k, ans in ((0, c), (1, r)):
            row, mask = encode_answer(pr, ans, length, pad)
            cols[k].append(row)
            cols[k + 2].append(mask)
    return PairTensors(*(torch.stack(c) for c in cols))


# ---------------------------------------------------------------- log-probabilities and the losses
def sequence_logprobs(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``log p(answer | prompt)``: the sum of the model's log-probabilities of the masked targets.

    ``ids (B, L)`` token rows, ``mask (B, L - 1)`` True where target ``ids[:, t + 1]`` counts
    (the response).  Returns ``(B,)``.  The prompt's tokens are inputs only: their own
    probabilities are left out, as in SFT (lesson 05) and DPO.
    """
    if ids.dim() != 2 or mask.shape != (ids.size(0), ids.size(1) - 1):
        raise UsageError(
            f"ids must be (B, L) and mask (B, L - 1); got {tuple(ids.shape)} and {tuple(mask.shape)}."
        )
    logits = model(ids[:, :-1])[0]  # (B, L - 1, V)
    logp = F.log_softmax(logits.float(), dim=-1)
    target_logp = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, L - 1)
    return (target_logp * mask).sum(-1)  # (B,)


def _chunked_logprobs(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor, chunk: int = 64):
    """:func:`sequence_logprobs` of many rows, ``chunk`` rows at a time (the same numbers, less memory)."""
    return torch.cat(
        [
            sequence_logprobs(model, ids[i : i + chunk], mask[i : i + chunk])
            for i in range(0, len(ids), chunk)
        ]
    )


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """``-mean log sigmoid(r_chosen - r_rejected)``: the reward model's loss (Ouyang et al. 2022, eq. 1).

    The Bradley-Terry model says ``P(chosen preferred) = sigmoid(r_chosen - r_rejected)``;
    the loss is that probability's negative log-likelihood.  ``(N,)`` rewards in, a scalar out.
    """
    if r_chosen.shape != r_rejected.shape:
        raise UsageError(
            f"r_chosen and r_rejected must have the same shape, got {tuple(r_chosen.shape)} and {tuple(r_rejected.shape)}."
        )
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
    positive: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The DPO loss (Rafailov et al. 2023, eq. 7) from sequence log-probabilities ``(N,)``.

    ``-mean log sigmoid(beta * [(log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))])``
    with ``y_w`` the chosen and ``y_l`` the rejected answer.  ``beta * (log pi - log pi_ref)``
    is the *implicit reward* of an answer.  Returns the loss and, for the plots, the mean
    implicit rewards, their margin, the share of pairs the policy already ranks right and
    the mean change of the chosen answer's log-probability.

    ``positive`` > 0 gives DPO-Positive (DPOP; Pal et al. 2024, "Smaug", arXiv:2402.13228):
    ``beta * positive * max(0, log pi_ref(y_w|x) - log pi(y_w|x))`` is taken off the margin, so
    the loss can no longer fall by lowering the chosen answer's probability along with the
    rejected one's, which plain DPO does when the two answers differ in a character or two.
    """
    beta = check_real("beta", beta, minimum=0.0, open_min=True)
    positive = check_real("positive", positive, minimum=0.0)
    shapes = {tuple(t.shape) for t in (policy_chosen, policy_rejected, ref_chosen, ref_rejected)}
    if len(shapes) != 1:
        raise UsageError(
            f"the four log-probability tensors must have one shape, got {sorted(shapes)}."
        )
    reward_chosen = beta * (policy_chosen - ref_chosen)  # (N,)
    reward_rejected = beta * (policy_rejected - ref_rejected)  # (N,)
    margin = reward_chosen - reward_rejected
    if positive:
        margin = margin - beta * positive * (ref_chosen - policy_chosen).clamp_min(0)
    loss = -F.logsigmoid(margin).mean()
    stats = {
        "chosen_logp_change": float((policy_chosen - ref_chosen).detach().mean()),
        "reward_chosen": float(reward_chosen.detach().mean()),
        "reward_rejected": float(reward_rejected.detach().mean()),
        "margin": float(margin.detach().mean()),
        "ranked_right": float((margin > 0).float().mean()),
    }
    return loss, stats


@torch.no_grad()
def response_kl(
    policy: nn.Module, reference: nn.Module, ids: torch.Tensor, mask: torch.Tensor
) -> float:
    """Mean per-token ``KL(policy || reference)`` of the next-token distributions at the masked positions.

    ``ids (B, L)``, ``mask (B, L - 1)`` as in :func:`sequence_logprobs`.  At each counted
    position ``sum_v p(v) (log p(v) - log q(v))`` over the whole vocabulary: 0 for a policy
    that did not move, in nats per response token.  The KL term InstructGPT's PPO step
    penalises is the same divergence, estimated from samples (Ouyang et al. 2022, eq. 2).
    """
    logp = F.log_softmax(policy(ids[:, :-1])[0].float(), dim=-1)  # (B, L - 1, V)
    logq = F.log_softmax(reference(ids[:, :-1])[0].float(), dim=-1)
    kl = (logp.exp() * (logp - logq)).sum(-1)  # (B, L - 1)
    return float(kl[mask].mean())


# ---------------------------------------------------------------- the reward model
class RewardModel(nn.Module):
    """A GPT whose last hidden state goes to a scalar head: ``model(ids (B, L), last (B,)) -> rewards (B,)``.

    InstructGPT's reward model is its SFT model "with the final unembedding layer removed",
    taking "in a prompt and response" and outputting "a scalar reward" (Ouyang et al. 2022,
    section 3.5).  Here ``body`` is the course GPT (its language-model head is simply not
    used) and ``head`` a ``Linear(n_embd, 1)`` reading the final LayerNorm's output at
    ``last``, the position of the end-of-response newline; later positions are padding,
    which a causal model never looks back at.
    """

    def __init__(self, body: GPT):
        super().__init__()
        self.body = body
        self.config = body.config
        self.head = nn.Linear(body.config.n_embd, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def hidden(self, ids: torch.Tensor) -> torch.Tensor:
        """The final LayerNorm's output ``(B, L, C)``: what the language-model head would read."""
        seen = []
        hook = self.body.transformer.ln_f.register_forward_hook(lambda m, i, o: seen.append(o))
        try:
            self.body(ids)
        finally:
            hook.remove()
        return seen[0]

    def forward(self, ids: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        h = self.hidden(ids)  # (B, L, C)
        h_last = h[torch.arange(ids.size(0), device=ids.device), last]  # (B, C)
        return self.head(h_last).squeeze(-1)  # (B,)

    def score(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Rewards ``(B,)`` of padded rows ``ids (B, L)`` with target masks ``(B, L - 1)`` (read at the last answer token)."""
        last = _last_position(mask)
        return self(ids, last)


def _last_position(mask: torch.Tensor) -> torch.Tensor:
    """Index in ``ids`` of the last answer token: target ``t + 1`` for the last True ``t`` of each row."""
    positions = torch.arange(mask.size(1), device=mask.device).expand_as(mask)
    return (positions * mask).max(-1).values + 1  # (B,)


def reward_scores(
    reward_model: RewardModel, tokenizer, examples: Sequence[Example], answers: Sequence[str]
) -> torch.Tensor:
    """The reward model's score ``(N,)`` of each answer to its example's prompt."""
    pairs = [PreferencePair(e, a, a) for e, a in zip(examples, answers, strict=True)]
    t = pair_tensors(pairs, tokenizer, reward_model.config.block_size)
    device = next(reward_model.parameters()).device
    with torch.no_grad():
        return reward_model.score(t.chosen.to(device), t.chosen_mask.to(device)).cpu()


@torch.no_grad()
def reward_accuracy(reward_model: RewardModel, pairs: PairTensors) -> float:
    """Share of pairs whose chosen answer the reward model scores higher than the rejected one."""
    was_training = reward_model.training
    reward_model.eval()
    device = next(reward_model.parameters()).device
    p = pairs.to(device)
    rc = reward_model.score(p.chosen, p.chosen_mask)
    rr = reward_model.score(p.rejected, p.rejected_mask)
    reward_model.train(was_training)
    return float((rc > rr).float().mean())


# ---------------------------------------------------------------- training loops
@dataclass
class PreferenceConfig:
    """A short preference-training run: steps, batch of pairs, AdamW learning rate, and DPO's beta."""

    steps: int = 200
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup: int = 10
    grad_clip: float = 1.0
    beta: float = 0.1  # DPO only: how strongly the policy is tied to the reference
    positive: float = 0.0  # DPO only: DPOP's lambda (0 = plain DPO), see dpo_loss
    eval_interval: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("steps", self.steps, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("eval_interval", self.eval_interval, minimum=1)
        check_real("lr", self.lr, minimum=0.0, open_min=True)
        check_real("beta", self.beta, minimum=0.0, open_min=True)


@dataclass
class PreferenceLog:
    """What a preference run recorded: every step's loss (and DPO stats), evaluations, wall time."""

    config: dict
    losses: list[float] = field(default_factory=list)
    stats: list[dict[str, float]] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def summary(self) -> dict[str, object]:
        last = self.evals[-1] if self.evals else {}
        return {
            "steps": len(self.losses),
            "final_loss": self.losses[-1] if self.losses else None,
            **{k: v for k, v in last.items() if k != "step"},
            "wall_s": round(self.wall_s, 2),
            "cpu_s": round(self.cpu_s, 2),
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "summary": self.summary(),
            "config": self.config,
            "evals": self.evals,
            "losses": [round(x, 5) for x in self.losses],
            "stats": self.stats,
        }


def _optimizer(params, config: PreferenceConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        [p for p in params if p.requires_grad],
        lr=config.lr,
        betas=(0.9, 0.99),
        weight_decay=config.weight_decay,
    )


def _loop(
    step_loss,
    params,
    config: PreferenceConfig,
    n_rows: int,
    evaluate,
    label: str,
    live_plot: bool,
    show_progress: bool,
) -> PreferenceLog:
    """The loop both runs share: sample a batch of pair rows, ``step_loss(rows) -> (loss, stats)``, AdamW.

    Linear warm-up over ``config.warmup`` steps, then a constant learning rate; gradients
    clipped to ``config.grad_clip``; ``evaluate() -> dict`` every ``eval_interval`` steps and at
    the end.  A loss that is not finite stops the run with :class:`NonFiniteLossError`.
    """
    from llmlab.progress import LiveLossPlot, progress_bar

    params = list(params)
    opt = _optimizer(params, config)
    g = torch.Generator().manual_seed(config.seed)
    log = PreferenceLog(config=asdict(config))
    plot = LiveLossPlot(title=f"{label} loss", ylabel=f"{label} loss (nats)") if live_plot else None
    t0, c0 = time.perf_counter(), time.process_time()
    bar = progress_bar(total=config.steps, desc=label, disable=not show_progress)

    def record_eval(step):
        row = {"step": step, **evaluate()}
        log.evals.append(row)
        if plot is not None:
            for k, v in row.items():
                if k.endswith("loss"):  # the losses only: the other measures are not in nats
                    plot.add(k, step, v)
        return row

    record_eval(0)
    for step in range(config.steps):
        for group in opt.param_groups:
            group["lr"] = config.lr * min(1.0, (step + 1) / max(1, config.warmup))
        rows = torch.randint(n_rows, (config.batch_size,), generator=g)
        loss, stats = step_loss(rows)
        if not math.isfinite(loss.item()):
            log.wall_s, log.cpu_s = time.perf_counter() - t0, time.process_time() - c0
            raise NonFiniteLossError(
                f"The {label} loss became {loss.item()} at step {step}: lower the learning rate "
                f"(now {config.lr:g}){' or beta' if 'DPO' in label else ''} and run again.",
                step,
                log,
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        opt.step()
        log.losses.append(loss.item())
        log.stats.append({k: round(v, 5) for k, v in stats.items()})
        if plot is not None:
            plot.add("train (batch)", step + 1, loss.item())
        if (step + 1) % config.eval_interval == 0 or step + 1 == config.steps:
            row = record_eval(step + 1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k != "step"})
        if plot is not None:
            plot.refresh()
        bar.update(1)
    bar.close()
    if plot is not None:
        plot.finish()
    log.wall_s, log.cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return log


def train_reward_model(
    reward_model: RewardModel,
    train_pairs: PairTensors,
    held_out_pairs: PairTensors,
    config: PreferenceConfig,
    *,
    live_plot: bool = False,
    show_progress: bool = True,
) -> PreferenceLog:
    """Train ``reward_model`` in place with the Bradley-Terry loss; evaluations give held-out accuracy and loss."""
    device = next(reward_model.parameters()).device
    train_pairs, held_out_pairs = train_pairs.to(device), held_out_pairs.to(device)

    def step_loss(rows):
        p = train_pairs.rows(rows)
        rc = reward_model.score(p.chosen, p.chosen_mask)
        rr = reward_model.score(p.rejected, p.rejected_mask)
        return bradley_terry_loss(rc, rr), {"accuracy": float((rc > rr).float().mean())}

    @torch.no_grad()
    def evaluate():
        reward_model.eval()
        p = held_out_pairs
        rc = reward_model.score(p.chosen, p.chosen_mask)
        rr = reward_model.score(p.rejected, p.rejected_mask)
        reward_model.train()
        return {
            "held-out loss": float(bradley_terry_loss(rc, rr)),
            "held-out accuracy": float((rc > rr).float().mean()),
        }

    reward_model.train()
    log = _loop(
        step_loss,
        reward_model.parameters(),
        config,
        len(train_pairs),
        evaluate,
        "reward model (Bradley-Terry)",
        live_plot,
        show_progress,
    )
    reward_model.eval()
    return log


def train_dpo(
    policy: nn.Module,
    reference: nn.Module,
    train_pairs: PairTensors,
    held_out_pairs: PairTensors,
    config: PreferenceConfig,
    *,
    live_plot: bool = False,
    show_progress: bool = True,
) -> PreferenceLog:
    """Tune ``policy`` in place with the DPO loss against the frozen ``reference``.

    The reference's log-probabilities of every pair are computed once, up front (it never
    changes).  Evaluations give the held-out DPO loss and the share of held-out pairs the
    policy ranks right (implicit reward of chosen > rejected).
    """
    device = next(policy.parameters()).device
    train_pairs, held_out_pairs = train_pairs.to(device), held_out_pairs.to(device)
    reference.eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        ref = {
            name: (
                _chunked_logprobs(reference, t.chosen, t.chosen_mask),
                _chunked_logprobs(reference, t.rejected, t.rejected_mask),
            )
            for name, t in (("train", train_pairs), ("held_out", held_out_pairs))
        }

    def step_loss(rows):
        p = train_pairs.rows(rows)
        pc = sequence_logprobs(policy, p.chosen, p.chosen_mask)
        pr = sequence_logprobs(policy, p.rejected, p.rejected_mask)
        return dpo_loss(
            pc, pr, ref["train"][0][rows], ref["train"][1][rows], config.beta, config.positive
        )

    @torch.no_grad()
    def evaluate():
        policy.eval()
        p = held_out_pairs
        pc = _chunked_logprobs(policy, p.chosen, p.chosen_mask)
        pr = _chunked_logprobs(policy, p.rejected, p.rejected_mask)
        loss, stats = dpo_loss(pc, pr, *ref["held_out"], config.beta, config.positive)
        policy.train()
        return {
            "held-out loss": float(loss),
            "held-out ranked right": stats["ranked_right"],
            "held-out chosen log-prob change": stats["chosen_logp_change"],
        }

    policy.train()
    log = _loop(
        step_loss,
        policy.parameters(),
        config,
        len(train_pairs),
        evaluate,
        "DPOP" if config.positive else "DPO",
        live_plot,
        show_progress,
    )
    policy.eval()
    return log


# ---------------------------------------------------------------- measuring the effect
def preferred_rate(model: GPT, tokenizer, examples: Sequence[Example]) -> dict[str, object]:
    """The model's greedy answers to ``examples`` and the share the rule scores 2 (right), overall and per kind.

    Returns ``{"answers": [...], "right": {kind: share, "all": share}, "form": {...}}``; ``form``
    is the share scoring at least 1 (right, or of the right form).
    """
    from llmlab.finetuning import answer

    answers = answer(model, tokenizer, [e.instruction for e in examples])
    scores = [rule_score(e, a) for e, a in zip(examples, answers, strict=True)]
    right, form = collections.defaultdict(list), collections.defaultdict(list)
    for e, s in zip(examples, scores, strict=True):
        for key in (e.kind, "all"):
            right[key].append(s == 2)
            form[key].append(s >= 1)

    def share(d):  # task kinds in lesson 05's order, then "all"
        order = [k for k in (*TASK_KINDS, "all") if k in d]
        return {k: sum(d[k]) / len(d[k]) for k in order}

    return {"answers": answers, "scores": scores, "right": share(right), "form": share(form)}


# ---------------------------------------------------------------- the shipped runs
#: The recipes of the shipped runs (``scripts/train_preference_models.py``) and of the lesson's ``FULL_RUN``.
RECIPES: dict[str, PreferenceConfig] = {
    "reward": PreferenceConfig(steps=200, batch_size=32, lr=3e-4, warmup=10, eval_interval=25),
    # DPO-Positive: plain DPO (positive=0) did not raise the held-out rate on these near-miss pairs
    # (the trials are in scripts/train_preference_models.py, TRIED)
    "dpo": PreferenceConfig(
        steps=80, batch_size=32, lr=1e-4, warmup=10, beta=0.5, positive=10.0, eval_interval=20
    ),
}
#: How the pairs are made: which model samples, how many answers per prompt, the temperature.
PAIRS: dict[str, Any] = {"n_samples": 4, "temperature": 1.0, "seed": 0, "n_per_kind": 400}
#: Folder of each shipped run inside the course data folder.
SHIPPED: dict[str, str] = {"reward": "pref-reward", "dpo": "pref-dpo"}
#: The fine-tuned model the runs start from (lesson 05's ``sft-full``).
BASE = "sft-full"


def shipped_dir(name: str) -> Path:
    from llmlab.paths import data_dir

    if name not in SHIPPED:
        raise UsageError(
            f"Unknown preference run {name!r}; the shipped ones are {', '.join(SHIPPED)}."
        )
    return data_dir() / SHIPPED[name]


def load_base(device="cpu"):
    """Lesson 05's fully fine-tuned model (``data/sft-full``): the start of both runs, and DPO's reference."""
    from llmlab.paths import data_dir
    from llmlab.training import load_checkpoint

    return load_checkpoint(data_dir() / BASE, device=device)


def new_prompts(data, n_per_kind: int = 400, seed: int = 0) -> list[Example]:
    """Instructions for the preference step that neither fine-tuning nor the evaluation ever used.

    InstructGPT's reward-model and PPO prompts are new prompts, not the SFT ones (Ouyang et
    al. 2022, section 3.2).  Here: the word tasks of lesson 05 on the held-out words that
    none of its held-out examples uses (``data.held_out_words`` minus those), up to
    ``n_per_kind`` each.  So the held-out examples stay unseen by every training step, and
    a word of theirs is never a word of these.  (No capital questions: every country's
    held-out wording is an evaluation question already.)
    """
    import random as _random

    from llmlab.finetuning import _word_examples

    check_int("n_per_kind", n_per_kind, minimum=1)
    used = {w for e in data.held_out if e.kind != "capital" for w in _subject(e).split()}
    free = [w for w in data.held_out_words if w not in used]
    rng = _random.Random(seed)
    out: list[Example] = []
    for kind in ("upper", "reverse", "pattern"):
        out += _word_examples(kind, free, n_per_kind, rng)
    return out


def preference_data(model: GPT, tokenizer, seed: int = 0, n_per_kind: int | None = None):
    """The lesson's pairs: ``(instruction data, train pairs, held-out pairs)`` from ``model``'s answers.

    Training pairs come from :func:`new_prompts` (new words), held-out pairs from lesson 05's
    held-out instructions, so the reward model's held-out accuracy and DPO's held-out rate are
    measured on prompts no step trained on.
    """
    from llmlab.finetuning import make_instruction_data

    data = make_instruction_data(seed=0)
    n = PAIRS["n_per_kind"] if n_per_kind is None else n_per_kind
    kw = {"n_samples": PAIRS["n_samples"], "temperature": PAIRS["temperature"]}
    train = make_pairs(model, tokenizer, new_prompts(data, n, seed), seed=seed, **kw)
    held = make_pairs(model, tokenizer, data.held_out, seed=seed + 1, **kw)
    return data, train, held


def pairs_to_json(pairs: Sequence[PreferencePair]) -> list[list[str]]:
    """Pairs as JSON rows ``[kind, instruction, response, chosen, rejected]`` (what a train log stores)."""
    return [
        [p.example.kind, p.example.instruction, p.example.response, p.chosen, p.rejected]
        for p in pairs
    ]


def pairs_from_json(rows) -> list[PreferencePair]:
    """The pairs :func:`pairs_to_json` wrote."""
    try:
        return [PreferencePair(Example(k, i, r), c, j) for k, i, r, c, j in rows]
    except (TypeError, ValueError):
        raise UsageError(
            "These are not preference pairs: each row must be [kind, instruction, response, chosen, rejected]."
        ) from None


REWARD_META_KEY = "reward_head"


def save_run(
    out,
    model: nn.Module,
    tokenizer,
    meta: dict,
    card,
    log: PreferenceLog,
    extra: dict | None = None,
) -> Path:
    """Save a shipped run: the checkpoint and its card (``llmlab.model_card.save_recorded_run``), then ``train_log.json``.

    A :class:`RewardModel` is saved as its GPT body, with the head's ``n_embd + 1`` numbers in
    ``meta["reward_head"]`` (JSON keeps every float32 digit); :func:`load_reward_model` puts it
    back.  ``train_log.json`` holds :meth:`PreferenceLog.to_dict` and ``extra`` (e.g. the pairs).
    """
    from llmlab import model_card

    if isinstance(model, RewardModel):
        meta[REWARD_META_KEY] = {
            "weight": [float(x) for x in model.head.weight.detach().cpu().flatten()],
            "bias": float(model.head.bias.detach().cpu()),
        }
        model = model.body
    model_card.save_recorded_run(out, model, tokenizer, meta, card)
    model_card.write_json_atomic(
        Path(out) / model_card.TRAIN_LOG, {**log.to_dict(), **(extra or {})}
    )
    return Path(out)


def load_reward_model(directory, device="cpu") -> RewardModel:
    """A reward model saved by :func:`save_reward_model`, in eval mode."""
    from llmlab.training import load_checkpoint

    ckpt = load_checkpoint(directory, device=device)
    head, body = ckpt.meta.get(REWARD_META_KEY), ckpt.model
    if (
        not isinstance(body, GPT)
        or not isinstance(head, dict)
        or len(head.get("weight", [])) != body.config.n_embd
    ):
        raise UsageError(
            f"{Path(directory).name!r} is a GPT checkpoint, not a reward model (no {REWARD_META_KEY} in its meta)."
        )
    rm = RewardModel(body)
    with torch.no_grad():
        rm.head.weight.copy_(torch.tensor(head["weight"]).view(1, -1))
        rm.head.bias.fill_(head["bias"])
    return rm.to(device).eval()


def load_shipped(name: str, device="cpu"):
    """The shipped reward model (``"reward"``) or DPO-tuned model (``"dpo"``), in eval mode."""
    from llmlab.training import load_checkpoint

    if name == "reward":
        return load_reward_model(shipped_dir(name), device=device)
    return load_checkpoint(shipped_dir(name), device=device).model


def read_log(name: str) -> dict:
    """The ``train_log.json`` of a shipped run."""
    from llmlab.model_card import read_train_log

    return read_train_log(shipped_dir(name))


def copy_model(model: nn.Module) -> nn.Module:
    """A trainable copy of ``model`` (DPO's policy starts as a copy of the reference)."""
    m = copy.deepcopy(model)
    for p in m.parameters():
        p.requires_grad_(True)
    return m
