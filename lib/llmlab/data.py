"""Named corpora and test sets: what each is, where it comes from, and how to load it.

Two kinds of entries:

* **embedded**: no network needed.  They come from files that ship inside the
  packages the course depends on (gensim's test data) and are built, then
  cached, on first use.
* **download**: optional extras.  Fetched once over HTTPS, checked against a
  SHA-256 digest, written to the cache atomically (a partial download never
  leaves a file behind) and reused afterwards.  Offline, loading one fails with
  a message that names the embedded alternative.

>>> from llmlab import data
>>> data.list_datasets()          # a table of every entry
>>> text = data.load_text("wiki-news")
>>> sentences = data.load_sentences("wiki-news")
>>> data.path("wordsim353")       # a file shipped with gensim
"""

from __future__ import annotations

import difflib
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from llmlab import corpus
from llmlab.paths import cache_dir

DEFAULT_TEXT = "wiki-news"


class DatasetError(RuntimeError):
    """A data set could not be found, fetched or verified; the message says what to do."""


@dataclass(frozen=True)
class Dataset:
    """One entry of the registry."""

    name: str
    kind: str  # "text", "word-similarity", "word-analogy" or "vectors"
    description: str
    size: str
    licence: str
    source: str
    embedded: bool
    gensim_file: str | None = None  # embedded: a file in gensim's test data
    url: str | None = None  # download: where it comes from
    sha256: str | None = None  # download: the digest the file must have
    filename: str | None = None  # download: the name in the cache
    alternative: str = DEFAULT_TEXT  # what to use instead when offline


REGISTRY: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            name="wiki-news",
            kind="text",
            description=(
                "Clean English prose (case and punctuation kept): 100+ Wikipedia articles "
                "(Anarchism, Autism, Albedo, ...) and 350 Lee news stories, built from gensim's test data."
            ),
            size="about 2.7 MB, 424,000 words, 93 distinct characters",
            licence="Wikipedia text: CC BY-SA 3.0; Lee corpus: distributed with gensim (LGPL-2.1) for research use",
            source="gensim.test.utils.datapath: " + corpus.WIKI_FILE + ", lee_background.cor, lee.cor",
            embedded=True,
        ),
        Dataset(
            name="wordsim353",
            kind="word-similarity",
            description="WordSim-353: 353 English word pairs with human similarity/relatedness scores (Finkelstein et al. 2002).",
            size="353 pairs",
            licence="free for research, see the authors' page",
            source="gensim test data (wordsim353.tsv); Finkelstein et al., ACM TOIS 20(1), 2002",
            embedded=True,
            gensim_file="wordsim353.tsv",
        ),
        Dataset(
            name="simlex999",
            kind="word-similarity",
            description="SimLex-999: 999 pairs scored for similarity, not relatedness (Hill, Reichart and Korhonen 2015).",
            size="999 pairs",
            licence="free for research, see the authors' page",
            source="gensim test data (simlex999.txt); Hill et al., Computational Linguistics 41(4), 2015",
            embedded=True,
            gensim_file="simlex999.txt",
        ),
        Dataset(
            name="google-analogies",
            kind="word-analogy",
            description="The Google analogy questions: 19,544 'a is to b as c is to ?' in 14 categories (Mikolov et al. 2013a).",
            size="19,544 questions",
            licence="Apache 2.0 (word2vec release)",
            source="gensim test data (questions-words.txt); Mikolov et al., arXiv:1301.3781, 2013",
            embedded=True,
            gensim_file="questions-words.txt",
        ),
        Dataset(
            name="tiny-shakespeare",
            kind="text",
            description="Tiny Shakespeare: 40,000 lines from Shakespeare's plays, Karpathy's char-rnn corpus.",
            size="1,115,394 bytes",
            licence="public domain text",
            source="https://github.com/karpathy/char-rnn (data/tinyshakespeare/input.txt)",
            embedded=False,
            url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            sha256=None,  # set below when known; see _TINY_SHAKESPEARE_SHA256
            filename="tiny-shakespeare.txt",
        ),
    ]
}


def list_datasets() -> list[dict[str, str]]:
    """Every entry of the registry as rows (name, kind, embedded, size, description, licence, source)."""
    return [
        {
            "name": d.name,
            "kind": d.kind,
            "embedded": "yes" if d.embedded else "download",
            "size": d.size,
            "description": d.description,
            "licence": d.licence,
            "source": d.source,
        }
        for d in REGISTRY.values()
    ]


def get(name: str) -> Dataset:
    """The registry entry called ``name``; an unknown name gets an error listing the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DatasetError(
            f"Unknown data set {name!r}.{hint} Known data sets: {', '.join(sorted(REGISTRY))}."
        ) from None


# ---------------------------------------------------------------- embedded text
_text_memo: dict[str, str] = {}


def _embedded_text(name: str) -> str:
    """The embedded corpus, built from gensim's files once and cached on disk."""
    if name in _text_memo:
        return _text_memo[name]
    cached = cache_dir() / f"{name}.txt"
    if cached.is_file():
        text = cached.read_text(encoding="utf-8")
    else:
        text = corpus.build_wiki_news_text()
        _atomic_write_bytes(cached, text.encode("utf-8"))
    _text_memo[name] = text
    return text


def load_text(name: str = DEFAULT_TEXT) -> str:
    """The whole text of a corpus as one string."""
    entry = get(name)
    if entry.kind != "text":
        raise DatasetError(f"{name!r} is a {entry.kind} set, not a text corpus; use llmlab.data.path({name!r}).")
    if entry.embedded:
        return _embedded_text(name)
    return download(name).read_text(encoding="utf-8")


def load_sentences(name: str = DEFAULT_TEXT) -> list[list[str]]:
    """A corpus as tokenized sentences (lists of lower-cased words), the input word2vec expects."""
    text = load_text(name)
    return [words for s in corpus.split_sentences(text) if (words := corpus.tokenize_words(s))]


def path(name: str) -> Path:
    """The file behind an entry: a gensim test-data file, or a verified download."""
    entry = get(name)
    if entry.gensim_file:
        from gensim.test.utils import datapath

        return Path(datapath(entry.gensim_file))
    if entry.embedded:
        _embedded_text(name)
        return cache_dir() / f"{name}.txt"
    return download(name)


# ------------------------------------------------------------------- downloads
def sha256_of(file: Path) -> str:
    """The SHA-256 digest of a file, as hex."""
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write_bytes(target: Path, payload: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download(name: str, timeout: float = 30.0) -> Path:
    """Fetch a download entry into the cache (once), verify its SHA-256 and return its path.

    The file is streamed to a temporary file beside the target and renamed into
    place only after its digest matched, so an interrupted or corrupt download
    never leaves a file behind.  A cached file whose digest no longer matches
    is reported, not used.
    """
    entry = get(name)
    if entry.embedded:
        raise DatasetError(f"{name!r} is embedded; nothing to download. Use llmlab.data.load_text({name!r}).")
    if not entry.sha256:
        raise DatasetError(
            f"{name!r} has no recorded SHA-256, so the course will not use a download it cannot verify. "
            f"Use the embedded corpus {entry.alternative!r} instead."
        )
    target = cache_dir() / (entry.filename or name)
    if target.is_file():
        if sha256_of(target) == entry.sha256:
            return target
        raise DatasetError(
            f"The cached file {target.name} (in the llmlab cache folder) is corrupt: its SHA-256 does not "
            f"match. Delete it and load {name!r} again to download a fresh copy."
        )
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(entry.url, timeout=timeout) as response, os.fdopen(fd, "wb") as out:
                for block in iter(lambda: response.read(1 << 16), b""):
                    digest.update(block)
                    out.write(block)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise DatasetError(
                f"Could not download {name!r} ({exc}). You may be offline. The course works without it: "
                f"use the embedded corpus {entry.alternative!r}, e.g. llmlab.data.load_text({entry.alternative!r})."
            ) from None
        if digest.hexdigest() != entry.sha256:
            raise DatasetError(
                f"The download of {name!r} has SHA-256 {digest.hexdigest()}, expected {entry.sha256}. "
                "It was discarded. The file at the source may have changed; use the embedded corpus "
                f"{entry.alternative!r} instead."
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
