"""Tests for llmlab.skipgram: skip-gram with negative sampling written out, against the paper's formulas."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from llmlab import embeddings as emb
from llmlab import skipgram

TOY = [
    ["the", "king", "rules", "the", "land"],
    ["the", "queen", "rules", "the", "land"],
    ["a", "dog", "chases", "a", "cat"],
    ["a", "cat", "chases", "a", "mouse"],
] * 30


def test_window_pairs_matches_the_per_sentence_definition():
    vocab = skipgram.Vocabulary.build(TOY[:4], min_count=1)
    ids, sent = vocab.encode(TOY[:4])
    c, o = skipgram.window_pairs(ids, sent, window=2)
    got = Counter(zip((vocab.words[i] for i in c), (vocab.words[i] for i in o), strict=True))
    expected = Counter(p for s in TOY[:4] for p in emb.skipgram_pairs(s, 2))
    assert got == expected
    # random windows are a subset: never farther than the window, never across sentences
    c2, o2 = skipgram.window_pairs(ids, sent, 2, np.random.default_rng(0))
    assert Counter(zip(c2.tolist(), o2.tolist(), strict=True)) <= Counter(
        zip(c.tolist(), o.tolist(), strict=True)
    )


def test_noise_distribution_uses_the_three_quarter_power():
    counts = torch.tensor([1000, 100, 10, 1])
    p = skipgram.noise_distribution(counts)
    assert p.sum().item() == pytest.approx(1.0)
    exponent = torch.log(p[0] / p[1]) / torch.log(counts[0] / counts[1].double())
    assert exponent.item() == pytest.approx(0.75)
    assert p[3].item() > 1 / 1111  # flatter than the unigram distribution


def test_keep_probabilities_follow_the_paper():
    counts = np.array([9000, 900, 90, 10])
    f = counts / counts.sum()
    keep = skipgram.keep_probabilities(counts, t=1e-2, variant="paper")
    assert np.allclose(keep, np.minimum(1, np.sqrt(1e-2 / f)))
    c_keep = skipgram.keep_probabilities(counts, t=1e-2, variant="word2vec.c")
    assert np.all(c_keep >= keep) and keep[-1] == 1.0
    with pytest.raises(ValueError):
        skipgram.keep_probabilities(counts, variant="other")


def test_skipgram_loss_matches_an_independent_computation():
    model = skipgram.SkipGramNS(20, 6)
    torch.nn.init.normal_(model.out_embed.weight)  # non-zero context vectors so every term matters
    torch.nn.init.normal_(model.in_embed.weight)
    centre = torch.tensor([1, 4, 7])
    context = torch.tensor([2, 5, 9])
    negatives = torch.tensor([[3, 11, 12], [0, 0, 19], [8, 2, 6]])
    v = model.in_embed.weight.detach().double().numpy()
    u = model.out_embed.weight.detach().double().numpy()

    def log_sigmoid(z):
        return -np.log1p(np.exp(-z))

    expected = np.mean(
        [
            -log_sigmoid(u[o] @ v[c]) - sum(log_sigmoid(-(u[n] @ v[c])) for n in negs)
            for c, o, negs in zip(
                centre.tolist(), context.tolist(), negatives.tolist(), strict=True
            )
        ]
    )
    assert model(centre, context, negatives).item() == pytest.approx(expected, rel=1e-5)
    # and torch's own binary cross-entropy with logits gives the same number
    vc = model.in_embed(centre)
    logits = torch.cat(
        [
            (model.out_embed(context) * vc).sum(-1, keepdim=True),
            torch.bmm(model.out_embed(negatives), vc[:, :, None])[..., 0],
        ],
        dim=1,
    )
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1
    bce = (
        torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        .sum(1)
        .mean()
    )
    assert model(centre, context, negatives).item() == pytest.approx(bce.item(), rel=1e-6)


def test_skipgram_learns_the_toy_corpus():
    result = skipgram.train_skipgram(
        TOY, dim=16, window=2, min_count=1, sample=1.0, epochs=20, batch_size=64, progress=False
    )
    assert result.losses[-1] < result.losses[0]
    # king and queen share every context, so they end closer than king and cat
    assert emb.similarity(result.kv, "king", "queen") > emb.similarity(result.kv, "king", "cat")
    again = skipgram.train_skipgram(
        TOY, dim=16, window=2, min_count=1, sample=1.0, epochs=2, batch_size=64, progress=False
    )
    same = skipgram.train_skipgram(
        TOY, dim=16, window=2, min_count=1, sample=1.0, epochs=2, batch_size=64, progress=False
    )
    assert np.array_equal(again.kv.vectors, same.kv.vectors)
