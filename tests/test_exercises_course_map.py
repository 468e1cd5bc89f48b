"""Checkers of lesson 00: right answers pass, the usual wrong ones get a specific hint."""

import torch

from llmlab.exercises import course_map as ex

LOGITS = [3.0, 2.2, 1.8, 1.2, 1.0, 0.2, -0.5, -1.0]


def test_mixing_step(capsys):
    assert ex.check_mixing_step(3) is True
    assert ex.check_mixing_step(1) is False
    assert "on its own" in capsys.readouterr().out
    assert ex.check_mixing_step(None) is False
    assert "placeholder" in capsys.readouterr().out
    assert ex.check_mixing_step(7) is False
    assert "1 to 4" in capsys.readouterr().out


def test_probability_at_temperature(capsys):
    right = torch.softmax(torch.tensor(LOGITS) / 0.5, -1)[0].item()
    assert ex.check_probability_at_temperature(right, LOGITS, 0, 0.5) is True
    at_one = torch.softmax(torch.tensor(LOGITS), -1)[0].item()
    assert ex.check_probability_at_temperature(at_one, LOGITS, 0, 0.5) is False
    assert "T = 1" in capsys.readouterr().out
    times = torch.softmax(torch.tensor(LOGITS) * 0.5, -1)[0].item()
    assert ex.check_probability_at_temperature(times, LOGITS, 0, 0.5) is False
    assert "divided by T" in capsys.readouterr().out
    assert ex.check_probability_at_temperature("abc", LOGITS, 0, 0.5) is False
    assert "could not be checked" in capsys.readouterr().out


def test_forward_passes(capsys):
    assert ex.check_forward_passes(5) is True
    assert ex.check_forward_passes(6) is False
    assert "first pass" in capsys.readouterr().out
    assert ex.check_forward_passes(1) is False
    assert ex.check_forward_passes(3, new_tokens=3) is True
