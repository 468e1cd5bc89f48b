"""llmlab.loss: the hand-written loss and gradient against torch's cross-entropy and autograd."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmlab.loss import correct_token_probs, cross_entropy, logits_gradient, perplexity


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 11, generator=g) * 4  # (B, T, V), far from uniform
    targets = torch.randint(0, 11, (3, 5), generator=g)  # (B, T)
    return logits, targets


def test_cross_entropy_equals_torch(batch):
    logits, targets = batch
    expected = F.cross_entropy(logits.view(-1, 11), targets.view(-1))
    torch.testing.assert_close(cross_entropy(logits, targets), expected)


def test_cross_entropy_is_mean_negative_log_of_the_correct_probability(batch):
    logits, targets = batch
    p = correct_token_probs(logits, targets)
    assert p.shape == targets.shape and ((p > 0) & (p < 1)).all()
    manual = torch.softmax(logits[1, 2], -1)[targets[1, 2]]  # one position, by hand
    torch.testing.assert_close(p[1, 2], manual)
    torch.testing.assert_close(-p.log().mean(), cross_entropy(logits, targets))


def test_uniform_logits_give_ln_v_and_perplexity_v():
    loss = cross_entropy(torch.zeros(4, 93), torch.arange(4))
    assert loss.item() == pytest.approx(math.log(93))
    assert perplexity(loss) == pytest.approx(93)


def test_hand_gradient_equals_autograd(batch):
    logits, targets = batch
    leaf = logits.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(F.cross_entropy(leaf.view(-1, 11), targets.view(-1)), leaf)
    hand = logits_gradient(logits, targets)
    assert hand.shape == logits.shape
    torch.testing.assert_close(hand, auto)
    torch.testing.assert_close(
        hand.sum(-1), torch.zeros(3, 5), atol=1e-7, rtol=0
    )  # each row sums to 0


def test_shape_mismatch_is_one_clear_error(batch):
    logits, targets = batch
    with pytest.raises(ValueError, match="leading dimensions"):
        cross_entropy(logits, targets[:, :-1])
