"""How good are word vectors?  Human similarity judgements and analogy questions (lesson 01).

Three standard test sets, which ship inside gensim (``llmlab.data`` names them):

* WordSim-353 (Finkelstein et al. 2002): 353 word pairs scored 0-10 by people for
  relatedness *or* similarity ("cup"/"coffee": 6.58, related but not alike);
* SimLex-999 (Hill et al. 2015): 999 pairs scored for similarity only, so related
  words that are not alike score low;
* the Google analogy questions (Mikolov et al. 2013a, arXiv:1301.3781): 19,544
  "a is to b as c is to d" questions in 14 sections.

:func:`evaluate` reports the Spearman correlation of the vectors' cosines with
the human scores, the analogy accuracy, and the coverage of each, since a small
corpus leaves many test words without a vector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gensim.models import KeyedVectors

from llmlab import data
from llmlab.embeddings import as_keyed_vectors


def read_word_pairs(name: str) -> list[tuple[str, str, float]]:
    """The (word1, word2, human score) rows of a word-similarity set, lower-cased."""
    rows = []
    for line in data.path(name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        a, b, score = line.split("\t")
        rows.append((a.lower(), b.lower(), float(score)))
    return rows


def read_analogies(name: str = "google-analogies") -> dict[str, list[tuple[str, str, str, str]]]:
    """The analogy questions (a, b, c, expected), lower-cased, grouped by section."""
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current: list[tuple[str, str, str, str]] = []
    for line in data.path(name).read_text(encoding="utf-8").splitlines():
        if line.startswith(": "):
            current = sections.setdefault(line[2:].strip(), [])
        elif line.strip():
            a, b, c, expected = line.lower().split()
            current.append((a, b, c, expected))
    return sections


@dataclass
class Evaluation:
    """Scores of a set of word vectors.  Coverage is the share of pairs/questions whose words all have vectors;
    the scores are computed on the covered items only."""

    wordsim353: float
    wordsim353_coverage: float
    simlex999: float
    simlex999_coverage: float
    analogy_accuracy: float
    analogy_coverage: float
    analogy_sections: list[dict] = field(default_factory=list)  # section, correct, covered, total

    def row(self) -> dict[str, float]:
        """The headline numbers as a flat dict."""
        return {
            "WordSim-353 Spearman": self.wordsim353,
            "WordSim-353 coverage": self.wordsim353_coverage,
            "SimLex-999 Spearman": self.simlex999,
            "SimLex-999 coverage": self.simlex999_coverage,
            "analogy accuracy": self.analogy_accuracy,
            "analogy coverage": self.analogy_coverage,
        }


def _pair_score(kv: KeyedVectors, name: str) -> tuple[float, float]:
    rows = read_word_pairs(name)
    covered = sum(a in kv.key_to_index and b in kv.key_to_index for a, b, _ in rows)
    if covered < 3:
        return float("nan"), covered / len(rows)
    _pearson, spearman, _oov = kv.evaluate_word_pairs(str(data.path(name)), restrict_vocab=len(kv))
    return float(spearman[0]), covered / len(rows)


def evaluate(kv, analogies: bool = True) -> Evaluation:
    """Spearman correlation with human scores on WordSim-353 and SimLex-999, and Google analogy accuracy.

    Uses gensim's ``evaluate_word_pairs`` and ``evaluate_word_analogies``
    (3CosAdd over the whole vocabulary, question words excluded) on the items
    whose words are all in the vocabulary, and reports that coverage next to
    each score: on a small corpus many test words are missing, and a score on
    60% of the pairs is not comparable with a score on all of them.
    ``analogies=False`` skips the (slower) analogy questions.
    """
    kv = as_keyed_vectors(kv)
    ws, ws_cov = _pair_score(kv, "wordsim353")
    sl, sl_cov = _pair_score(kv, "simlex999")
    acc, an_cov = float("nan"), float("nan")
    sections: list[dict[str, Any]] = []
    if analogies:
        questions = read_analogies()
        total = sum(len(q) for q in questions.values())
        _score, results = kv.evaluate_word_analogies(
            str(data.path("google-analogies")), restrict_vocab=len(kv)
        )
        for (name, qs), res in zip(questions.items(), results, strict=False):
            covered = len(res["correct"]) + len(res["incorrect"])
            sections.append(
                dict(section=name, correct=len(res["correct"]), covered=covered, total=len(qs))
            )
        correct = sum(s["correct"] for s in sections)
        covered = sum(s["covered"] for s in sections)
        acc = correct / covered if covered else float("nan")
        an_cov = covered / total
    return Evaluation(ws, ws_cov, sl, sl_cov, acc, an_cov, sections)
