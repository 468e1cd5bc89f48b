"""Lesson 09's checkers accept the worked solutions and reject the usual mistakes."""

import math

import torch
import torch.nn.functional as F

from llmlab.exercises import alignment as ex


def dpo(pc, pr, rc, rr, beta):
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


def test_solutions_pass(capsys):
    assert ex.check_rule_scores([2, 1, 1, 0, 0])
    p = 1 / (1 + math.exp(-1.2))
    assert ex.check_bradley_terry((p, -math.log(p)))
    assert ex.check_dpo_loss(dpo)
    assert ex.check_kl(
        0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75), [0.5, 0.5], [0.25, 0.75]
    )
    assert capsys.readouterr().out.count("Correct!") == 4


def test_mistakes_get_hints(capsys):
    assert not ex.check_rule_scores(None)
    assert not ex.check_rule_scores([2, 1, 1, 1, 0])
    assert not ex.check_rule_scores([2, 2, 1, 0, 0])
    assert not ex.check_rule_scores([2, 1])
    assert not ex.check_bradley_terry((1.5 / 1.8, 0.2))
    assert not ex.check_bradley_terry((1 / (1 + math.exp(-1.2)), 1.2))
    assert not ex.check_dpo_loss(
        lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * (pc - pr)).mean()
    )
    assert not ex.check_dpo_loss(
        lambda pc, pr, rc, rr, beta: -F.logsigmoid((pc - rc) - (pr - rr)).mean()
    )
    assert not ex.check_dpo_loss(lambda pc, pr, rc, rr, beta: dpo(pr, pc, rr, rc, beta))
    assert not ex.check_dpo_loss(lambda pc, pr, rc, rr, beta: dpo(pc, pr, rc, rr, beta) * len(pc))
    assert not ex.check_dpo_loss(
        lambda *a: torch.tensor([1.0, 2.0])
    )  # not a scalar: a hint, no traceback
    assert not ex.check_kl(
        0.5 * math.log(0.25 / 0.5) + 0.5 * math.log(0.75 / 0.5) * -1 + 1, [0.5, 0.5], [0.25, 0.75]
    )
    q_first = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert not ex.check_kl(q_first, [0.5, 0.5], [0.25, 0.75])
    out = capsys.readouterr().out
    assert out.count("Not yet") == 13
    for hint in (
        "own letters",
        "difference of the rewards",
        "negative log",
        "reference model",
        "beta is missing",
        "sign is reversed",
        "mean over the pairs",
        "KL(q || p)",
        "placeholder",
    ):
        assert hint in out, hint
