"""Checkers for the exercises of lesson 01 (word embeddings).

>>> from llmlab.exercises import embeddings as ex
>>> ex.check_cosine_similarity(answer, kv, "king", "queen")
>>> ex.check_odd_one_out(answer, kv, ["january", "march", "july", "paris"])
>>> ex.check_skipgram_pairs(answer, ["the", "cat", "sat"], window=1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from llmlab import embeddings as emb
from llmlab.exercises import run_check


def check_cosine_similarity(answer, kv, w1: str, w2: str) -> bool:
    """The learner's cosine similarity of ``w1`` and ``w2``, computed by hand from ``kv[w1]`` and ``kv[w2]``."""

    def check(a):
        expected = emb.similarity(kv, w1, w2)  # here, so that a placeholder is rejected first
        value = float(np.asarray(a, dtype=np.float64).reshape(()))
        if abs(value - expected) < 1e-4:
            return True, f"cos({w1}, {w2}) = {expected:.4f}.", ""
        dot = float(np.dot(kv[w1], kv[w2]))
        if abs(value - dot) < 1e-3 * max(1.0, abs(dot)):
            return (
                False,
                "",
                "that is the dot product; divide it by the two vectors' lengths (np.linalg.norm).",
            )
        if not -1.0 <= value <= 1.0:
            return False, "", "a cosine similarity lies between -1 and 1; check the normalisation."
        return (
            False,
            "",
            f"u.v / (|u| |v|) with u = kv[{w1!r}] and v = kv[{w2!r}] gives something else.",
        )

    return run_check(answer, check)


def odd_one_out(kv, words: Sequence[str]) -> str:
    """The word whose mean cosine similarity to the other words is lowest."""
    kv = emb.check_words(kv, *words)
    x = np.stack([kv.get_vector(w, norm=True) for w in words])  # (n, D)
    sims = x @ x.T  # (n, n)
    mean_to_others = (sims.sum(1) - np.diag(sims)) / (len(words) - 1)
    return words[int(np.argmin(mean_to_others))]


def check_odd_one_out(answer, kv, words: Sequence[str]) -> bool:
    """The learner's odd word out: the one least similar, on average, to the others."""

    def check(a):
        expected = odd_one_out(kv, words)  # here, so that a placeholder is rejected first
        if not isinstance(a, str):
            return False, "", "answer with the word itself, a string such as 'paris'."
        if a == expected:
            return True, f"{expected!r} has the lowest mean cosine similarity to the others.", ""
        if a not in words:
            return False, "", f"the answer must be one of {list(words)}."
        return (
            False,
            "",
            "for each word, average its cosine similarity to the other words; take the lowest.",
        )

    return run_check(answer, check)


def check_skipgram_pairs(answer, tokens: Sequence[str], window: int) -> bool:
    """The learner's (centre, context) pairs of ``tokens`` with a window of ``window`` words each side."""
    expected = Counter(emb.skipgram_pairs(tokens, window))

    def check(a):
        got = Counter(tuple(p) for p in a)
        if got == expected:
            return True, f"{sum(expected.values())} pairs, as skip-gram sees this sentence.", ""
        missing, extra = expected - got, got - expected
        if extra and all(c == o for c, o in extra):
            return False, "", "a word is not its own context: skip j == i."
        if missing:
            example = next(iter(missing))
            return (
                False,
                "",
                f"{len(missing)} pair(s) missing, e.g. {example}; look {window} words left AND right.",
            )
        return (
            False,
            "",
            f"{sum(extra.values())} pair(s) too many, e.g. {next(iter(extra))}; stay inside the window.",
        )

    return run_check(answer, check)
