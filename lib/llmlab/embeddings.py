"""Word embeddings: word2vec with gensim, a from-scratch skip-gram in PyTorch, and how to measure them.

The idea goes back to the distributional hypothesis: "words that occur in the
same contexts tend to have similar meanings" (Harris 1954), or "you shall know
a word by the company it keeps" (Firth 1957).  word2vec (Mikolov et al. 2013a,
arXiv:1301.3781; 2013b, arXiv:1310.4546) turns it into a prediction task: from
a centre word, predict the words around it.  The weights that make the
prediction good are the word vectors.

========================  ==================================================
``train_word2vec``        gensim's Word2Vec with the course defaults, reproducible
``SkipGramNS``            skip-gram with negative sampling, written out in PyTorch
``train_skipgram``        trains ``SkipGramNS`` on tokenized sentences
``nearest/analogy/...``   queries; an unknown word gets close spellings as hints
``offset_consistency``    how parallel the offsets b - a of word pairs are
``evaluate``              WordSim-353, SimLex-999 and the Google analogies, with coverage
``project``               PCA (default) or exact t-SNE to 2-D/3-D
``export_projector_tsv``  files for the TensorFlow Embedding Projector
========================  ==================================================

Every function that takes ``kv`` accepts gensim ``KeyedVectors`` or a model
with a ``.wv`` attribute (a gensim ``Word2Vec``).
"""

from __future__ import annotations

import difflib
import math
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec
from torch import nn

from llmlab import data
from llmlab.progress import progress_bar

# ----------------------------------------------------------------- vocabulary queries


class UnknownWordError(KeyError):
    """A word is not in the vocabulary; the message suggests close spellings that are."""

    def __str__(self) -> str:  # KeyError would print the message inside quotes
        return str(self.args[0])


def as_keyed_vectors(kv) -> KeyedVectors:
    """``kv`` itself, or the ``.wv`` of a gensim model; anything else gets a clear error."""
    if isinstance(kv, KeyedVectors):
        return kv
    wv = getattr(kv, "wv", None)
    if isinstance(wv, KeyedVectors):
        return wv
    raise TypeError(
        f"Expected gensim KeyedVectors or a Word2Vec model, got {type(kv).__name__}. "
        "Wrap raw vectors with llmlab.embeddings.to_keyed_vectors(words, vectors)."
    )


def check_words(kv, *words: str) -> KeyedVectors:
    """Raise ``UnknownWordError`` naming the first word not in ``kv``, with close spellings that are."""
    kv = as_keyed_vectors(kv)
    for word in words:
        if not isinstance(word, str):
            raise TypeError(f"Words must be strings, got {word!r} ({type(word).__name__}).")
        if word in kv.key_to_index:
            continue
        close = difflib.get_close_matches(word.lower(), kv.index_to_key, n=3, cutoff=0.75)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        lower = (
            " The vocabulary is lower-case."
            if word != word.lower() and word.lower() in kv.key_to_index
            else ""
        )
        raise UnknownWordError(
            f"{word!r} is not in the vocabulary ({len(kv):,} words).{lower}{hint} "
            "Words seen fewer than min_count times in the corpus get no vector."
        )
    return kv


def similarity(kv, w1: str, w2: str) -> float:
    """Cosine similarity of two words' vectors: u.v / (|u| |v|), in [-1, 1]."""
    kv = check_words(kv, w1, w2)
    return float(kv.similarity(w1, w2))


def nearest(kv, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` words with the highest cosine similarity to ``word`` (itself excluded)."""
    kv = check_words(kv, word)
    return [(w, float(s)) for w, s in kv.most_similar(word, topn=k)]


def analogy(kv, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
    """``a`` is to ``b`` as ``c`` is to ?: the words closest to b - a + c (3CosAdd, Mikolov et al. 2013a).

    The vectors are length-normalised first and the three question words are
    excluded from the answers, as in the word2vec paper's evaluation.
    """
    kv = check_words(kv, a, b, c)
    return [(w, float(s)) for w, s in kv.most_similar(positive=[b, c], negative=[a], topn=k)]


def offset_consistency(kv, pairs: Sequence[tuple[str, str]]) -> float:
    """Mean cosine similarity between the offsets b - a of all pairs (unit-length word vectors).

    1 means every pair differs by the same direction (a perfect relation
    vector, as 3CosAdd analogies assume); 0 means unrelated directions.
    """
    kv = check_words(kv, *(w for p in pairs for w in p))
    if len(pairs) < 2:
        raise ValueError("offset_consistency needs at least two pairs.")
    d = np.stack(
        [kv.get_vector(b, norm=True) - kv.get_vector(a, norm=True) for a, b in pairs]
    )  # (P, D)
    d = d / np.linalg.norm(d, axis=1, keepdims=True).clip(1e-12)
    sims = d @ d.T  # (P, P)
    n = len(pairs)
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def neighbour_table(kv, words: Sequence[str], k: int = 8) -> str:
    """A plain-text table: one row per word, its ``k`` nearest neighbours with cosine similarities."""
    kv = as_keyed_vectors(kv)
    width = max(len(w) for w in words)
    lines = []
    for word in words:
        try:
            cells = [f"{w} {s:.2f}" for w, s in nearest(kv, word, k)]
        except UnknownWordError as exc:
            cells = [str(exc)]
        lines.append(f"{word:<{width}} | " + ", ".join(cells))
    return "\n".join(lines)


# ----------------------------------------------------------------- gensim word2vec


def stable_hash(word: str) -> int:
    """A hash of a string that is the same in every Python process (CRC-32).

    gensim seeds each word's initial vector with ``hashfxn(word + str(seed))``;
    its default, Python's ``hash``, is salted per process unless
    ``PYTHONHASHSEED`` is set, so the vectors would change from run to run.
    """
    return zlib.crc32(word.encode("utf-8"))


#: Course defaults for ``train_word2vec``, chosen by measuring on the embedded
#: "wiki-news" corpus (19k sentences, 424k words); see ``TUNING_NOTES``.
WORD2VEC_DEFAULTS = dict(
    sg=1,  # skip-gram, the model lesson 01 also builds from scratch
    vector_size=100,
    window=5,
    min_count=5,
    negative=5,
    sample=1e-3,
    epochs=10,
    alpha=0.05,  # twice gensim's default: a small corpus needs bigger steps in 10 epochs
)

#: What was measured to pick ``WORD2VEC_DEFAULTS`` (gensim 4.4, workers=1, seed 0,
#: WordSim-353 Spearman on the covered pairs; CPU seconds of the training alone,
#: one core).  min_count=5 covers 64% of WordSim-353, min_count=3 75%.
TUNING_NOTES = """
sg  window  min_count  epochs  negative  sample  alpha   WordSim-353  SimLex-999  CPU s
1   5       5          5       5         1e-3    0.025   0.237        0.079       ~11
0   5       5          5       5         1e-3    0.025   0.153        0.014       ~5
1   10      3          10      10        1e-3    0.025   0.387        0.185       (107 wall)
1   5       5          15      5         1e-3    0.025   0.387        0.171       (83 wall)
1   5       5          10      5         1e-4    0.025   0.220        0.095       18
0   5       5          20      5         1e-4    0.025   0.228        0.080       15
1   5 (dim 50) 5       10      5         1e-4    0.025   0.244        0.100       19
1   5       3          10      5         1e-4    0.025   0.175        0.106       20
1   5       5          10      5         1e-3    0.05    0.409        0.182       25   <- default
0   10      5          30      5         1e-3    0.025   0.428        0.132       26   (CBOW: better WordSim, worse SimLex)
Findings: epochs matter most on a corpus this small; stronger subsampling (1e-4) throws away
too much of it; a larger step size lets 10 epochs do what 15 did.  CBOW with a wide window and
many epochs scores a little higher on WordSim-353 (relatedness) but lower on SimLex-999
(similarity); the course keeps skip-gram, the model it also builds from scratch.
"""


class _EpochBar(CallbackAny2Vec):
    """A gensim callback that advances a progress bar after each epoch and records the loss."""

    def __init__(self, epochs: int, desc: str):
        self.bar = progress_bar(total=epochs, desc=desc, unit="epoch")

    def on_epoch_end(self, model):
        self.bar.update(1)

    def on_train_end(self, model):
        self.bar.close()


def train_word2vec(
    sentences: Iterable[list[str]],
    *,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
    **options,
) -> Word2Vec:
    """Train gensim's Word2Vec (negative sampling) with the course defaults; returns the model.

    ``options`` override ``WORD2VEC_DEFAULTS`` (``sg=0`` for CBOW, ``window``,
    ``epochs``, ...) and are passed to ``gensim.models.Word2Vec``.  The word
    vectors are ``model.wv`` (a ``KeyedVectors``).

    Reproducibility: with ``workers=1`` (the default) the same ``seed`` gives
    bit-identical vectors in every process, because the initial vectors are
    seeded with ``stable_hash`` instead of Python's salted ``hash``.  With more
    worker threads training is faster on a multi-core machine, but the threads
    update shared vectors in an order the OS scheduler decides ("Hogwild"), so
    results differ slightly from run to run.  The course pays the speed for
    reproducible numbers.
    """
    settings = {**WORD2VEC_DEFAULTS, **options}
    sentences = list(sentences)
    if not sentences or not any(sentences):
        raise ValueError(
            "train_word2vec needs a non-empty list of tokenized sentences (lists of words)."
        )
    if isinstance(sentences[0], str):
        raise TypeError(
            "sentences must be lists of words, not strings: e.g. llmlab.data.load_sentences('wiki-news')."
        )
    callbacks = [_EpochBar(settings["epochs"], "word2vec")] if progress else []
    return Word2Vec(
        sentences,
        seed=seed,
        workers=workers,
        hashfxn=stable_hash,
        callbacks=callbacks,
        **settings,
    )


# ----------------------------------------------------------------- evaluation

EVALUATION_SETS = {
    "wordsim353": "WordSim-353 (Finkelstein et al. 2002): relatedness and similarity",
    "simlex999": "SimLex-999 (Hill et al. 2015): similarity only",
    "google-analogies": "Google analogies (Mikolov et al. 2013a)",
}


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
    current = None
    for line in data.path(name).read_text(encoding="utf-8").splitlines():
        if line.startswith(": "):
            current = sections.setdefault(line[2:].strip(), [])
        elif line.strip():
            current.append(tuple(w.lower() for w in line.split()))
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
    acc, an_cov, sections = float("nan"), float("nan"), []
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


def to_keyed_vectors(words: Sequence[str], vectors) -> KeyedVectors:
    """Wrap a ``(V, D)`` array or tensor of vectors, row i for ``words[i]``, in gensim ``KeyedVectors``."""
    vectors = torch.as_tensor(vectors).detach().cpu().float().numpy()  # (V, D)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(
            f"Expected vectors of shape ({len(words)}, D), got {tuple(vectors.shape)}."
        )
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(list(words), vectors)
    return kv


# ----------------------------------------------------------------- skip-gram from scratch


def skipgram_pairs(tokens: Sequence[str], window: int = 2) -> list[tuple[str, str]]:
    """The (centre, context) training pairs of one sentence: every word within ``window`` positions."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}.")
    pairs = []
    for i, centre in enumerate(tokens):
        for j in range(max(0, i - window), min(len(tokens), i + window + 1)):
            if j != i:
                pairs.append((centre, tokens[j]))
    return pairs


@dataclass
class Vocabulary:
    """Words seen at least ``min_count`` times, most frequent first (ties alphabetical)."""

    words: list[str]
    counts: np.ndarray  # (V,) int64
    index: dict[str, int]

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 5) -> Vocabulary:
        counter = Counter(w for s in sentences for w in s)
        kept = sorted(
            (w for w, c in counter.items() if c >= min_count), key=lambda w: (-counter[w], w)
        )
        if not kept:
            raise ValueError(
                f"No word occurs at least min_count={min_count} times; lower min_count."
            )
        return cls(
            kept,
            np.array([counter[w] for w in kept], dtype=np.int64),
            {w: i for i, w in enumerate(kept)},
        )

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, sentences: Iterable[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """All in-vocabulary tokens as ids ``(N,)`` and the sentence each belongs to ``(N,)``."""
        ids, sent = [], []
        for s_no, sentence in enumerate(sentences):
            for w in sentence:
                i = self.index.get(w)
                if i is not None:
                    ids.append(i)
                    sent.append(s_no)
        return np.array(ids, dtype=np.int64), np.array(sent, dtype=np.int64)


def noise_distribution(counts, power: float = 0.75) -> torch.Tensor:
    """The negative-sampling noise distribution P_n(w) = U(w)^power / Z (Mikolov et al. 2013b, section 2.2).

    "We investigated a number of choices for P_n(w) and found that the unigram
    distribution U(w) raised to the 3/4rd power (i.e., U(w)^{3/4}/Z)
    outperformed significantly the unigram and the uniform distributions."
    Returns a ``(V,)`` float64 tensor that sums to 1.
    """
    counts = torch.as_tensor(counts, dtype=torch.float64)
    weights = counts.pow(power)
    return weights / weights.sum()


def keep_probabilities(counts, t: float = 1e-4, variant: str = "paper") -> np.ndarray:
    """Probability of keeping each occurrence of a word when subsampling frequent words, ``(V,)``.

    ``variant="paper"``: Mikolov et al. 2013b, eq. 5, discards each occurrence
    with probability P(w) = 1 - sqrt(t / f(w)), f the word's relative
    frequency, so keep = min(1, sqrt(t / f)).  ``variant="word2vec.c"``: the
    formula in the released C code (and gensim), keep = min(1, sqrt(t/f) + t/f),
    which keeps a little more.  The paper suggests t around 1e-5 for billions
    of words; on a corpus of 424k words a larger t (1e-4 .. 1e-3) keeps enough.
    """
    f = np.asarray(counts, dtype=np.float64) / np.sum(counts)
    if variant == "paper":
        keep = np.sqrt(t / f)
    elif variant == "word2vec.c":
        keep = np.sqrt(t / f) + t / f
    else:
        raise ValueError(f"variant must be 'paper' or 'word2vec.c', got {variant!r}.")
    return np.minimum(keep, 1.0)


def window_pairs(
    ids: np.ndarray, sent: np.ndarray, window: int, rng: np.random.Generator | None = None
):
    """All (centre, context) id pairs of a tokenized corpus, vectorised; ``(P,)`` and ``(P,)``.

    ``ids``/``sent``: token ids and their sentence numbers, ``(N,)``.  Pairs
    never cross a sentence boundary.  With ``rng``, each centre word draws its
    own window size b uniformly from 1..window, as word2vec does ("we sample
    b" in Mikolov et al. 2013a, section 3.2), which weighs near words more.
    """
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n) if rng is not None else np.full(n, window)
    centres, contexts = [], []
    for d in range(1, window + 1):
        same = (sent[d:] == sent[:-d]) if d < n else np.zeros(0, dtype=bool)
        left, right = np.arange(n - d), np.arange(d, n)
        for c, o in ((left, right), (right, left)):  # context after, then before the centre
            m = same & (reach[c] >= d)
            centres.append(ids[c[m]])
            contexts.append(ids[o[m]])
    return np.concatenate(centres), np.concatenate(contexts)


class SkipGramNS(nn.Module):
    """Skip-gram with negative sampling (Mikolov et al. 2013b).

    Two tables of ``(V, D)`` vectors: ``in_embed`` holds v_w, the vector of a
    word as the centre (these are the word vectors we keep), ``out_embed``
    holds u_w, its vector as a context.  For a centre c, a true context o and
    K noise words n_1..n_K drawn from P_n(w), the loss is eq. 4 of the paper,
    negated:

        loss = -log sigma(u_o . v_c) - sum_k log sigma(-u_{n_k} . v_c)

    The first term pulls a real (centre, context) pair together, the second
    pushes K random words away; it replaces the full softmax over V words.
    """

    def __init__(self, vocab_size: int, dim: int = 100, generator: torch.Generator | None = None):
        super().__init__()
        self.in_embed = nn.Embedding(vocab_size, dim, sparse=True)
        self.out_embed = nn.Embedding(vocab_size, dim, sparse=True)
        # word2vec's initialisation: small random centre vectors, zero context vectors.
        nn.init.uniform_(self.in_embed.weight, -0.5 / dim, 0.5 / dim, generator=generator)
        nn.init.zeros_(self.out_embed.weight)

    def forward(
        self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """Mean loss over a batch: ``centre`` ``(B,)``, ``context`` ``(B,)``, ``negatives`` ``(B, K)`` ids."""
        v = self.in_embed(centre)  # (B, D)
        u_pos = self.out_embed(context)  # (B, D)
        u_neg = self.out_embed(negatives)  # (B, K, D)
        pos_score = (u_pos * v).sum(-1)  # (B,)   u_o . v_c
        neg_score = torch.bmm(u_neg, v.unsqueeze(-1)).squeeze(-1)  # (B, K)   u_nk . v_c
        loss = -F.logsigmoid(pos_score) - F.logsigmoid(-neg_score).sum(-1)  # (B,)
        return loss.mean()

    def vectors(self) -> torch.Tensor:
        """The word vectors, ``(V, D)``: the centre-word table."""
        return self.in_embed.weight.detach()


@dataclass
class SkipGramResult:
    """What ``train_skipgram`` returns."""

    model: SkipGramNS
    vocab: Vocabulary
    kv: KeyedVectors
    losses: list[float]  # mean loss of every ``log_every`` steps
    steps: int
    pairs_seen: int
    seconds: float


def train_skipgram(
    sentences: Sequence[Sequence[str]],
    *,
    dim: int = 100,
    window: int = 5,
    min_count: int = 5,
    negative: int = 5,
    sample: float = 1e-4,
    epochs: int = 2,
    batch_size: int = 4096,
    lr: float = 0.02,
    seed: int = 0,
    max_seconds: float | None = None,
    log_every: int = 20,
    progress: bool = True,
) -> SkipGramResult:
    """Train ``SkipGramNS`` on tokenized sentences and wrap its vectors in ``KeyedVectors``.

    Each epoch: subsample frequent words (``keep_probabilities``, the paper's
    variant, threshold ``sample``), build every (centre, context) pair with a
    random window of 1..``window``, shuffle, and take Adam steps (``SparseAdam``:
    only the rows a batch touches are updated) on batches of ``batch_size``
    pairs with ``negative`` noise words each from U(w)^0.75; the learning rate
    decays linearly to ``lr / 1000`` over the planned steps, as in word2vec.

    Why Adam and not word2vec's plain SGD: word2vec updates after every single
    pair, so a frequent word's vector is corrected as it goes.  In a batch of
    4,096 pairs x 5 noise words, "the" is drawn as noise hundreds of times and
    SGD adds all those gradients at once; measured on this corpus, plain SGD
    with word2vec's step size collapsed all vectors onto one direction (every
    cosine about 0.999).  Adam scales each step by the gradient's running size.

    Measured on "wiki-news" (seed 0, defaults): 1 epoch at lr 0.01 gave
    WordSim-353 0.16; 2 epochs at lr 0.02 gave 0.41 (about 28 CPU seconds).  ``max_seconds`` stops early (the notebook uses it to keep
    the demo short).  Deterministic for a seed.

    Runs on the CPU with one torch thread: the batches are small gathers and
    scatters, where a second thread costs more in synchronisation than it
    saves (measured: about 4x the CPU time per pair with 2 threads).
    """
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    vocab = Vocabulary.build(sentences, min_count)
    ids, sent = vocab.encode(sentences)
    keep = keep_probabilities(vocab.counts, sample, "paper")
    noise = noise_distribution(vocab.counts).float()  # (V,)
    model = SkipGramNS(len(vocab), dim, generator=gen)
    optimizer = torch.optim.SparseAdam(list(model.parameters()), lr=lr)
    # planned number of steps, for the linear decay: expected kept tokens x mean pairs per token
    mean_pairs = window + 1  # both sides, window b uniform in 1..window: 2 * (window + 1) / 2
    planned = max(1, int(epochs * keep[ids].sum() * mean_pairs / batch_size))
    losses, running, steps, seen = [], [], 0, 0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for epoch in range(epochs):
            kept = rng.random(len(ids)) < keep[ids]
            centres, contexts = window_pairs(ids[kept], sent[kept], window, rng)  # (P,), (P,)
            order = torch.from_numpy(rng.permutation(len(centres)))
            centres, contexts = torch.from_numpy(centres)[order], torch.from_numpy(contexts)[order]
            n_batches = math.ceil(len(centres) / batch_size)
            bar = progress_bar(
                total=n_batches, desc=f"skip-gram epoch {epoch + 1}/{epochs}", disable=not progress
            )
            for b in range(n_batches):
                c = centres[b * batch_size : (b + 1) * batch_size]  # (B,)
                o = contexts[b * batch_size : (b + 1) * batch_size]  # (B,)
                neg = torch.multinomial(noise, len(c) * negative, replacement=True, generator=gen)
                loss = model(c, o, neg.view(len(c), negative))
                for group in optimizer.param_groups:
                    group["lr"] = lr * max(1e-3, 1.0 - steps / planned)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                steps += 1
                seen += len(c)
                bar.update(1)
                running.append(loss.item())
                if len(running) == log_every:
                    losses.append(float(np.mean(running)))
                    running = []
                if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                    break
            bar.close()
            if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                break
    finally:
        torch.set_num_threads(threads)
    if running:
        losses.append(float(np.mean(running)))
    kv = to_keyed_vectors(vocab.words, model.vectors())
    return SkipGramResult(model, vocab, kv, losses, steps, seen, time.perf_counter() - t0)


# ----------------------------------------------------------------- projections


def pca(x, dim: int = 2) -> np.ndarray:
    """Project rows of ``x`` ``(N, D)`` onto their top ``dim`` principal components, ``(N, dim)``.

    Centre, then SVD: x - mean = U S V^T; the projection is (x - mean) V[:, :dim].
    Signs are fixed so each component's largest loading is positive (SVD's sign is arbitrary).
    """
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if x.ndim != 2 or x.shape[0] < dim:
        raise ValueError(f"pca needs an (N, D) array with N >= {dim}, got shape {tuple(x.shape)}.")
    xc = x - x.mean(0)  # (N, D)
    _u, _s, vt = torch.linalg.svd(xc, full_matrices=False)  # vt: (min(N, D), D)
    comps = vt[:dim]  # (dim, D)
    signs = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True)))  # (dim, 1)
    return (xc @ (comps * signs).T).numpy()  # (N, dim)


def _tsne_affinities(
    x: np.ndarray, perplexity: float, tol: float = 1e-5, symmetric: bool = True
) -> np.ndarray:
    """Input affinities ``(N, N)``: per-point Gaussians whose entropy matches log(perplexity).

    Row i of the conditional matrix (``symmetric=False``) is p_{j|i}; t-SNE uses
    the symmetric P = (p_{j|i} + p_{i|j}) / 2N.
    """
    n = x.shape[0]
    d2 = np.square(x[:, None, :] - x[None, :, :]).sum(-1)  # (N, N) squared distances
    target = np.log(perplexity)
    p = np.zeros((n, n))
    for i in range(n):
        lo, hi, beta = 0.0, np.inf, 1.0
        di = np.delete(d2[i], i)
        for _ in range(100):  # binary search on the precision beta = 1 / (2 sigma^2)
            w = np.exp(-(di - di.min()) * beta)
            pi = w / w.sum()
            entropy = -np.sum(pi * np.log(np.maximum(pi, 1e-300)))
            if abs(entropy - target) < tol:
                break
            if entropy > target:
                lo, beta = beta, beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi, beta = beta, (beta + lo) / 2
        p[i, np.arange(n) != i] = pi
    if not symmetric:
        return p
    p = (p + p.T) / (2 * n)
    return np.maximum(p, 1e-12)


def tsne(
    x,
    dim: int = 2,
    perplexity: float = 15.0,
    iterations: int = 750,
    learning_rate: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Exact t-SNE (van der Maaten and Hinton 2008) of ``x`` ``(N, D)`` to ``(N, dim)``, for a few hundred points.

    Gaussian affinities with the given perplexity in the input space, a
    Student-t kernel in the map, gradient descent on KL(P || Q) with momentum,
    per-parameter gains and early exaggeration (x12 for the first 250
    iterations), as in the paper.  O(N^2) memory and time per iteration.
    The map starts from the PCA projection scaled down (deterministic); ``seed``
    only adds a tiny jitter to break ties.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 3 or perplexity >= n:
        raise ValueError(
            f"tsne needs more points than the perplexity ({perplexity}); got {n} points."
        )
    x = x / np.linalg.norm(x, axis=1, keepdims=True).clip(
        1e-12
    )  # cosine geometry, as for word vectors
    p = _tsne_affinities(x, perplexity)
    y0 = pca(x, dim)
    rng = np.random.default_rng(seed)
    y = 1e-4 * y0 / y0[:, 0].std() + 1e-6 * rng.standard_normal((n, dim))  # (N, dim)
    lr = learning_rate or max(n / 12.0, 50.0)
    velocity, gains = np.zeros_like(y), np.ones_like(y)
    for it in range(iterations):
        exaggeration = 12.0 if it < 250 else 1.0
        momentum = 0.5 if it < 250 else 0.8
        diff = y[:, None, :] - y[None, :, :]  # (N, N, dim)
        num = 1.0 / (1.0 + np.square(diff).sum(-1))  # (N, N) Student-t kernel
        np.fill_diagonal(num, 0.0)
        q = np.maximum(num / num.sum(), 1e-12)
        grad = 4.0 * (((exaggeration * p - q) * num)[:, :, None] * diff).sum(1)  # (N, dim)
        same_sign = np.sign(grad) == np.sign(velocity)
        gains = np.where(same_sign, gains * 0.8, gains + 0.2).clip(0.01)
        velocity = momentum * velocity - lr * gains * grad
        y = y + velocity
        y = y - y.mean(0)
    return y


def project(vectors, method: str = "pca", dim: int = 2, **options) -> np.ndarray:
    """Project ``(N, D)`` vectors to ``(N, dim)`` with ``"pca"`` (default) or ``"tsne"``."""
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim}.")
    if method == "pca":
        return pca(vectors, dim)
    if method == "tsne":
        return tsne(vectors, dim, **options)
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}.")


# ----------------------------------------------------------------- word groups and export

#: Simple groups used to colour the maps; only words the vocabulary contains are used.
GROUPS: dict[str, list[str]] = {
    "countries": [
        "france",
        "germany",
        "italy",
        "spain",
        "england",
        "russia",
        "china",
        "japan",
        "india",
        "canada",
        "australia",
        "greece",
        "egypt",
        "iraq",
        "israel",
        "poland",
        "ireland",
        "mexico",
        "brazil",
        "afghanistan",
        "pakistan",
        "iran",
        "austria",
        "sweden",
        "netherlands",
        "portugal",
        "scotland",
        "turkey",
    ],
    "cities": [
        "paris",
        "london",
        "berlin",
        "rome",
        "moscow",
        "sydney",
        "washington",
        "york",
        "athens",
        "tokyo",
        "madrid",
        "jerusalem",
        "vienna",
        "melbourne",
        "canberra",
        "beijing",
        "boston",
        "chicago",
    ],
    "numbers": [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "twenty",
        "hundred",
    ],
    "months": [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ],
    "days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
    "family": [
        "father",
        "mother",
        "son",
        "daughter",
        "brother",
        "sister",
        "wife",
        "husband",
        "king",
        "queen",
    ],
    "science": [
        "physics",
        "chemistry",
        "mathematics",
        "biology",
        "energy",
        "atoms",
        "theory",
        "science",
    ],
}


def word_groups(kv, groups: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """``groups`` (default ``GROUPS``) restricted to words that have vectors; empty groups dropped."""
    kv = as_keyed_vectors(kv)
    groups = GROUPS if groups is None else groups
    out = {g: [w for w in ws if w in kv.key_to_index] for g, ws in groups.items()}
    return {g: ws for g, ws in out.items() if ws}


def export_projector_tsv(
    kv, directory, words: Sequence[str] | None = None, labels: dict[str, str] | None = None
) -> tuple[Path, Path]:
    """Write ``vectors.tsv`` and ``metadata.tsv`` for https://projector.tensorflow.org ("Load").

    ``vectors.tsv``: one row of tab-separated floats per word, no header.
    ``metadata.tsv``: with ``labels`` (word -> group) a header row ``word\\tgroup``
    and one row per word; without, one word per line and no header (the
    projector's rule for single-column metadata).  ``words`` defaults to the
    whole vocabulary, most frequent first.
    """
    kv = as_keyed_vectors(kv)
    words = list(kv.index_to_key if words is None else words)
    check_words(kv, *words)
    for w in words:
        if any(ch in w for ch in "\t\n\r"):
            raise ValueError(
                f"Word {w!r} contains a tab or newline, which the TSV format cannot hold."
            )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vec_path, meta_path = directory / "vectors.tsv", directory / "metadata.tsv"
    with open(vec_path, "w", encoding="utf-8") as f:
        for w in words:
            f.write("\t".join(f"{x:.6g}" for x in kv[w]) + "\n")
    with open(meta_path, "w", encoding="utf-8") as f:
        if labels is not None:
            f.write("word\tgroup\n")
            f.writelines(f"{w}\t{labels.get(w, 'other')}\n" for w in words)
        else:
            f.writelines(f"{w}\n" for w in words)
    return vec_path, meta_path
