"""Skip-gram with negative sampling, written out in PyTorch (lesson 01).

The model gensim trains in lesson 01, built from scratch: the (centre, context)
pairs of a window (for one sentence: ``llmlab.embeddings.skipgram_pairs``), the
noise distribution U(w)^0.75, the subsampling of frequent words, the two
embedding tables and the loss of Mikolov et al. 2013b
(arXiv:1310.4546, eq. 4), then a training loop whose vectors go into gensim's
``KeyedVectors`` so that every query of ``llmlab.embeddings`` works on them.

=======================  ==================================================
``Vocabulary``           words seen at least ``min_count`` times, with counts
``noise_distribution``   P_n(w) = U(w)^0.75 / Z, where negatives are drawn from
``keep_probabilities``   subsampling of frequent words (the paper's and word2vec.c's)
``window_pairs``         every pair of a tokenized corpus at once, vectorised
``SkipGramNS``           the two tables and the negative-sampling loss
``train_skipgram``       trains ``SkipGramNS`` and returns its vectors as ``KeyedVectors``
=======================  ==================================================
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from gensim.models import KeyedVectors
from torch import nn

from llmlab.embeddings import to_keyed_vectors
from llmlab.progress import progress_bar


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
