"""Tests for llmlab.embedding_eval: coverage and Spearman against scipy, analogies on vectors built to be right."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from llmlab import embedding_eval
from llmlab import embeddings as emb


def _kv(words, vectors):
    return emb.to_keyed_vectors(words, np.asarray(vectors, dtype=np.float32))


def test_evaluate_reports_coverage_and_spearman_on_covered_pairs():
    pairs = embedding_eval.read_word_pairs("wordsim353")
    vocab = sorted({w for a, b, _ in pairs[:40] for w in (a, b)})
    rng = np.random.default_rng(0)
    kv = _kv(vocab, rng.standard_normal((len(vocab), 16)))
    ev = embedding_eval.evaluate(kv)
    covered = [(a, b, s) for a, b, s in pairs if a in kv.key_to_index and b in kv.key_to_index]
    assert ev.wordsim353_coverage == pytest.approx(len(covered) / len(pairs))
    expected = stats.spearmanr(
        [s for *_, s in covered], [kv.similarity(a, b) for a, b, _ in covered]
    )[0]
    assert ev.wordsim353 == pytest.approx(expected, abs=1e-9)
    assert 0 <= ev.analogy_coverage < 0.05
    assert sum(s["total"] for s in ev.analogy_sections) == 19544
    assert len(ev.analogy_sections) == 14


def test_evaluate_gives_perfect_analogies_for_built_vectors():
    """Vectors built so that b - a + c = d exactly for every question of one category."""
    questions = embedding_eval.read_analogies()["capital-common-countries"]
    capitals = sorted({q[0] for q in questions} | {q[2] for q in questions})
    countries = sorted({q[1] for q in questions} | {q[3] for q in questions})
    n = len(capitals)
    capital_of = {a: b for a, b, _, _ in questions}
    rng = np.random.default_rng(0)
    base = rng.standard_normal((n, 64))
    offset = np.zeros(64)
    offset[0] = 3.0
    words, vecs = [], []
    for i, cap in enumerate(capitals):
        words += [cap, capital_of[cap]]
        vecs += [base[i], base[i] + offset]
    assert set(words) == set(capitals) | set(countries)
    ev = embedding_eval.evaluate(_kv(words, vecs))
    sec = ev.analogy_sections[0]
    assert sec["section"] == "capital-common-countries" and sec["covered"] == sec["total"]
    assert sec["correct"] == sec["total"]
