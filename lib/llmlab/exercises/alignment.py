"""Checkers for the exercises of lesson 09 (from GPT to ChatGPT: reward model and DPO).

>>> from llmlab.exercises import alignment as ex
>>> ex.check_rule_scores(None)
Not yet: ...
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from llmlab import alignment
from llmlab.exercises import run_check
from llmlab.finetuning import Example

#: Exercise 1: the example and the answers the learner scores with the rule.
RULE_EXAMPLE = Example("reverse", "Reverse the letters: stop", "pots")
RULE_ANSWERS = ["pots", "tops", "spot", "pot", "stop!"]

#: Exercise 2: the reward model's scores of a chosen and a rejected answer.
REWARDS = (1.5, 0.3)


def check_rule_scores(answer) -> bool:
    """``answer``: the rule's score (0, 1 or 2) of each of :data:`RULE_ANSWERS` to :data:`RULE_EXAMPLE`."""
    want = [alignment.rule_score(RULE_EXAMPLE, a) for a in RULE_ANSWERS]

    def check(a):
        got = [int(x) for x in a]
        if len(got) != len(want):
            return False, "", f"give one score per answer ({len(want)} of them)."
        wrong = [RULE_ANSWERS[i] for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
        if wrong:
            if "pot" in wrong:
                return (
                    False,
                    "",
                    "'pot' misses a letter: the form rule asks for the word's own letters, all of them.",
                )
            return (
                False,
                "",
                f"look again at {wrong[0]!r}: 2 only for the exact answer, 1 for the same letters in another order.",
            )
        return True, f"scores {want}: right beats right form beats anything else.", ""

    return run_check(answer, check)


def check_bradley_terry(answer) -> bool:
    """``answer = (P(chosen preferred), loss)`` for rewards :data:`REWARDS` under Bradley-Terry."""
    rc, rr = REWARDS
    p = 1 / (1 + math.exp(-(rc - rr)))

    def check(a):
        prob, loss = (float(x) for x in a)
        if abs(prob - p) > 1e-3:
            if abs(prob - rc / (rc + rr)) < 1e-3:
                return (
                    False,
                    "",
                    "Bradley-Terry uses the difference of the rewards: sigmoid(r_chosen - r_rejected).",
                )
            return (
                False,
                "",
                "P(chosen preferred) = sigmoid(r_chosen - r_rejected) = 1 / (1 + exp(-(1.5 - 0.3))).",
            )
        if abs(loss - (-math.log(p))) > 1e-3:
            return (
                False,
                "",
                "the loss is the negative log of that probability: -log sigmoid(r_chosen - r_rejected).",
            )
        return (
            True,
            f"P = {p:.3f}, loss = {-math.log(p):.3f} nats; it falls as the margin grows.",
            "",
        )

    return run_check(answer, check)


def check_dpo_loss(fn) -> bool:
    """``fn(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta) -> scalar``: the DPO loss."""

    def check(f):
        g = torch.Generator().manual_seed(0)
        pc, pr, rc, rr = (-5 * torch.rand(6, generator=g) for _ in range(4))
        beta = 0.2
        want, _ = alignment.dpo_loss(pc, pr, rc, rr, beta)
        got = float(torch.as_tensor(f(pc, pr, rc, rr, beta)))
        if abs(got - float(want)) < 1e-5:
            return (
                True,
                "the margin of the implicit rewards beta * log(pi / pi_ref), through -log sigmoid.",
                "",
            )
        if abs(got - float(-F.logsigmoid(beta * (pc - pr)).mean())) < 1e-5:
            return (
                False,
                "",
                "you left out the reference model: subtract log pi_ref from log pi for both answers.",
            )
        if abs(got - float(-F.logsigmoid((pc - rc) - (pr - rr)).mean())) < 1e-5:
            return (
                False,
                "",
                "beta is missing: it multiplies the whole difference inside the sigmoid.",
            )
        if abs(got - float(-F.logsigmoid(-beta * ((pc - rc) - (pr - rr))).mean())) < 1e-5:
            return False, "", "the sign is reversed: the chosen answer's log-ratio comes first."
        if abs(got - float(-F.logsigmoid(beta * ((pc - rc) - (pr - rr))).sum())) < 1e-5:
            return False, "", "take the mean over the pairs, not the sum."
        return (
            False,
            "",
            "-mean(log sigmoid(beta * ((pc - rc) - (pr - rr)))); F.logsigmoid is stable.",
        )

    return run_check(fn, check)


def check_kl(answer, p, q) -> bool:
    """``answer``: KL(p || q) in nats of two next-character distributions ``p``, ``q`` (lists)."""
    p_t, q_t = torch.tensor(p, dtype=torch.float64), torch.tensor(q, dtype=torch.float64)
    want = float((p_t * (p_t / q_t).log()).sum())
    reverse = float((q_t * (q_t / p_t).log()).sum())

    def check(a):
        got = float(a)
        if abs(got - want) < 1e-3:
            return (
                True,
                f"KL = {want:.4f} nats: 0 only when the tuned model's distribution equals the reference's.",
                "",
            )
        if abs(got - reverse) < 1e-3:
            return (
                False,
                "",
                "that is KL(q || p); the tuned model's p weights the log-ratio: sum p log(p / q).",
            )
        return False, "", "sum over the characters of p * log(p / q), natural log."

    return run_check(answer, check)
