"""The language-modelling loss, written out: cross-entropy, perplexity and its gradient (lesson 04).

A GPT gives, at every position, a score (logit) for every token of the vocabulary. Training asks
for a high probability on the token that actually comes next:

    logits (B, T, V) -> softmax over V -> p (B, T, V)
    loss = mean over positions of -ln p[correct next token]      (cross-entropy, in nats)

A model that guesses uniformly over V tokens has loss ln V. ``exp(loss)`` is the perplexity: the
number of tokens the model is, on average, as unsure between as a uniform guess over that many.

The gradient of the mean loss with respect to the logits has a closed form. For one position with
logits z and correct token y the loss is -z_y + ln(sum_k exp z_k), whose derivative in z_j is
softmax(z)_j - [j = y]; averaging over N positions divides by N:

    d loss / d logits = (softmax(logits) - one_hot(target)) / N

This is where backpropagation starts; autograd carries it back through every layer.
``torch.nn.functional.cross_entropy`` computes the same loss in one fused, numerically stable call
(what ``llmlab.gpt.GPT`` uses); the tests check both functions here against it and against autograd.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _flat(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., V)`` logits and ``(...)`` targets -> ``(N, V)`` and ``(N,)``."""
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits (..., V) and targets (...) must agree on the leading dimensions; got logits "
            f"{tuple(logits.shape)} and targets {tuple(targets.shape)}."
        )
    return logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1)


def correct_token_probs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The probability the model gives the correct next token: ``(..., V), (...) -> (...)``."""
    flat_logits, flat_targets = _flat(logits, targets)
    probs = torch.softmax(flat_logits, dim=-1)  # (N, V)
    return probs.gather(-1, flat_targets[:, None]).squeeze(-1).view(targets.shape)  # (...)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean of -ln p(correct next token), in nats: ``(..., V), (...) -> ()``.

    Written with ``log_softmax`` (ln of the softmax, computed without overflow), so it equals
    ``F.cross_entropy`` up to rounding.
    """
    flat_logits, flat_targets = _flat(logits, targets)
    log_p = torch.log_softmax(flat_logits, dim=-1)  # (N, V)
    return -log_p.gather(-1, flat_targets[:, None]).mean()


def logits_gradient(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d(mean cross-entropy)/d(logits), by hand: ``(softmax - one_hot) / N``, shape of ``logits``."""
    flat_logits, flat_targets = _flat(logits, targets)
    probs = torch.softmax(flat_logits, dim=-1)  # (N, V)
    one_hot = F.one_hot(flat_targets, num_classes=flat_logits.size(-1)).to(probs.dtype)  # (N, V)
    return ((probs - one_hot) / flat_targets.numel()).view(logits.shape)


def perplexity(loss: float) -> float:
    """``exp(loss)`` for a loss in nats: the size of a uniform guess that is as unsure."""
    return math.exp(float(loss))
