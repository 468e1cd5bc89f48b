"""Word vectors with gensim's word2vec, and how to query them (lesson 01).

The idea goes back to the distributional hypothesis: "words that occur in the
same contexts tend to have similar meanings" (Harris 1954), or "you shall know
a word by the company it keeps" (Firth 1957).  word2vec (Mikolov et al. 2013a,
arXiv:1301.3781; 2013b, arXiv:1310.4546) turns it into a prediction task: from
a centre word, predict the words around it.  The weights that make the
prediction good are the word vectors.

========================  ==================================================
``skipgram_pairs``        the (centre, context) pairs skip-gram learns to predict
``train_word2vec``        gensim's Word2Vec with the course defaults, reproducible
``nearest/analogy/...``   queries; an unknown word gets close spellings as hints
``offset_consistency``    how parallel the offsets b - a of word pairs are
``word_groups``           hand-made groups (countries, months, ...) to colour maps
``export_projector_tsv``  files for the TensorFlow Embedding Projector
========================  ==================================================

The same model written out in PyTorch is ``llmlab.skipgram``; the test sets
that score vectors are ``llmlab.embedding_eval``; the maps (PCA, t-SNE) are
``llmlab.projection``.  Every function that takes ``kv`` accepts gensim
``KeyedVectors`` or a model with a ``.wv`` attribute (a gensim ``Word2Vec``).
"""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

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


# ----------------------------------------------------------------- vectors from elsewhere


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
