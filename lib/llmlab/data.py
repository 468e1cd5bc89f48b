"""Named corpora and test sets: what each is, where it comes from, and how to load it (lessons 01-08).

Two kinds of entries:

* **embedded**: no network needed.  They come from files that ship inside the
  packages the course depends on (gensim's test data) and are built, then
  cached, on first use.
* **download**: optional extras.  Fetched once over HTTPS, checked against the
  digest recorded here (SHA-256; for GloVe the MD5 its publisher, gensim-data,
  records) and the byte size, written to the cache atomically (a partial
  download never leaves a file behind) and reused afterwards.  Offline, loading
  one fails with a message that names the embedded alternative.  Nothing
  downloaded is ever executed or unpickled: text is read as text, and word
  vectors with gensim's plain-text word2vec reader.

>>> from llmlab import data
>>> data.list_datasets()          # a table of every entry
>>> text = data.load_text("wiki-news")
>>> sentences = data.load_sentences("wiki-news")
>>> data.path("wordsim353")       # a file shipped with gensim
>>> glove = data.load_vectors("glove-wiki-gigaword-50")   # optional download, 66 MB
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from llmlab import corpus
from llmlab.errors import check_real
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
    sha256: str | None = None  # download: the SHA-256 the file must have
    md5: str | None = None  # download: the publisher's MD5, where no SHA-256 is published
    size_bytes: int | None = None  # download: the exact size of the file
    filename: str | None = None  # download: the name in the cache
    alternative: str = DEFAULT_TEXT  # what to use instead when offline

    @property
    def verified_by(self) -> str:
        """The checks a download of this entry passes before it is used."""
        checks = [name for name, value in (("SHA-256", self.sha256), ("MD5", self.md5)) if value]
        if self.size_bytes:
            checks.append(f"size {self.size_bytes:,} bytes")
        return " + ".join(checks) or "nothing (so it is refused)"


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
            source="gensim.test.utils.datapath: "
            + corpus.WIKI_FILE
            + ", lee_background.cor, lee.cor",
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
            # The digest that many independent projects pin for this exact file
            # (1,115,394 bytes; git blob 7dcb3a2d4cc3b48b6283dd46870bfeb78f88aac9).
            sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            size_bytes=1_115_394,
            filename="tiny-shakespeare.txt",
        ),
        Dataset(
            name="glove-wiki-gigaword-50",
            kind="vectors",
            description=(
                "Pretrained GloVe word vectors: 400,000 lower-cased words x 50 dimensions, trained on "
                "Wikipedia 2014 + Gigaword 5 (6B tokens); Pennington, Socher and Manning, EMNLP 2014."
            ),
            size="66 MB download (gzipped word2vec text format), about 80 MB in memory",
            licence="Public Domain Dedication and License (ODC-PDDL)",
            source=(
                "https://nlp.stanford.edu/projects/glove/ (glove.6B.50d), in word2vec format from "
                "gensim-data's GitHub release glove-wiki-gigaword-50"
            ),
            embedded=False,
            url=(
                "https://github.com/RaRe-Technologies/gensim-data/releases/download/"
                "glove-wiki-gigaword-50/glove-wiki-gigaword-50.gz"
            ),
            # gensim-data publishes no SHA-256; these are the MD5 and size its
            # list.json records (the values gensim's own downloader checks).
            md5="c289bc5d7f2f02c6dc9f2f9b67641813",
            size_bytes=69_182_535,
            filename="glove-wiki-gigaword-50.gz",
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
    if not isinstance(name, str):
        raise DatasetError(
            f"A data set is named by a string, got {type(name).__name__}; see llmlab.data.list_datasets()."
        )
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
    if cached.is_file() and sha256_of(cached) == corpus.EXPECTED_SHA256:
        text = cached.read_text(encoding="utf-8")
    else:  # not built yet, or a damaged cache file: build it again from gensim's files
        text = corpus.build_wiki_news_text()
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest != corpus.EXPECTED_SHA256:
            warnings.warn(
                f"The embedded corpus built from this gensim release differs from the one the course "
                f"was made with (SHA-256 {digest[:12]}..., expected {corpus.EXPECTED_SHA256[:12]}...). "
                "Lessons still run, but numbers will differ slightly from the committed outputs.",
                stacklevel=2,
            )
        _atomic_write_bytes(cached, text.encode("utf-8"))
    _text_memo[name] = text
    return text


def load_text(name: str = DEFAULT_TEXT) -> str:
    """The whole text of a corpus as one string."""
    entry = get(name)
    if entry.kind != "text":
        loader = "load_vectors" if entry.kind == "vectors" else "path"
        raise DatasetError(
            f"{name!r} is a {entry.kind} set, not a text corpus; use llmlab.data.{loader}({name!r})."
        )
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


#: A whole download must finish within this many seconds (a server trickling bytes would
#: otherwise never time out: ``timeout`` only bounds each wait for the next bytes).
DOWNLOAD_DEADLINE_S = 900.0


def _remove_stale_parts(folder: Path, older_than: float) -> None:
    """Delete the partial files (``.*.part``) of writes into ``folder`` that were killed.

    A live write touches its file at least every ``older_than`` seconds (each block
    read resets it, and a stalled read times out sooner), so an older one is left over
    from a process that was killed before it could clean up.
    """
    now = time.time()
    for part in folder.glob(".*.part"):
        try:
            if now - part.stat().st_mtime > older_than:
                part.unlink()
        except OSError:  # gone already, or not ours to delete
            pass


def _atomic_write_bytes(target: Path, payload: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(target.parent, older_than=120.0)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _offline_advice(entry: Dataset) -> str:
    """What to use instead of a download that cannot be had."""
    if entry.kind == "vectors":
        return (
            f"The course works without it: train your own vectors on the embedded corpus "
            f"{entry.alternative!r} with gensim's Word2Vec, as lesson 01 does "
            f"(sentences = llmlab.data.load_sentences({entry.alternative!r}))."
        )
    return (
        f"The course works without it: use the embedded corpus {entry.alternative!r}, "
        f"e.g. llmlab.data.load_text({entry.alternative!r})."
    )


def _check_file(entry: Dataset, file: Path) -> str | None:
    """Why ``file`` is not the file the registry describes (None when it is)."""
    size = file.stat().st_size
    if entry.size_bytes is not None and size != entry.size_bytes:
        return f"it has {size:,} bytes, expected {entry.size_bytes:,}"
    if entry.sha256 and (got := sha256_of(file)) != entry.sha256:
        return f"its SHA-256 is {got}, expected {entry.sha256}"
    if entry.md5:
        digest = hashlib.md5(usedforsecurity=False)
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != entry.md5:
            return f"its MD5 is {digest.hexdigest()}, expected {entry.md5}"
    return None


def is_downloaded(name: str) -> bool:
    """True when a download entry already sits in the cache (its size is checked, not its digest)."""
    entry = get(name)
    if entry.embedded:
        return True
    target = cache_dir() / (entry.filename or name)
    return target.is_file() and (
        entry.size_bytes is None or target.stat().st_size == entry.size_bytes
    )


def download(name: str, timeout: float = 30.0, deadline: float = DOWNLOAD_DEADLINE_S) -> Path:
    """Fetch a download entry into the cache (once), verify it and return its path.

    The file is streamed to a temporary file beside the target and renamed into
    place only after its size and digest (SHA-256, or the publisher's MD5 where
    no SHA-256 is published) matched, so an interrupted or corrupt download
    never leaves a file behind (and the partial file of a killed one is deleted
    at the next download).  A cached file that no longer matches is reported,
    not used.  ``timeout`` bounds each wait for the server (seconds); the whole
    download gives up after ``deadline`` seconds (plus at most one ``timeout``).
    """
    timeout = check_real("timeout", timeout, minimum=0, open_min=True)
    deadline = check_real("deadline", deadline, minimum=0, open_min=True)
    entry = get(name)
    if entry.embedded or entry.url is None:
        raise DatasetError(
            f"{name!r} is embedded; nothing to download. Use llmlab.data.load_text({name!r})."
        )
    url = entry.url
    if not (entry.sha256 or entry.md5):
        raise DatasetError(
            f"{name!r} has no recorded checksum, so the course will not use a download it cannot verify. "
            + _offline_advice(entry)
        )
    target = cache_dir() / (entry.filename or name)
    if target.is_file():
        problem = _check_file(entry, target)
        if problem is None:
            return target
        raise DatasetError(
            f"The cached file {target.name} (in the llmlab cache folder, llmlab.paths.cache_dir()) is "
            f"corrupt: {problem}. Delete it and load {name!r} again to download a fresh copy."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(target.parent, older_than=max(2 * timeout, 120.0))
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        try:
            started = time.monotonic()
            request = urllib.request.Request(url, headers={"User-Agent": "llmlab"})
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(request, timeout=timeout) as response,
            ):
                expected = response.headers.get("Content-Length")
                received = 0
                # read1: whatever has arrived (read(n) would wait for all n bytes, however slowly they come)
                for block in iter(lambda: response.read1(1 << 16), b""):
                    out.write(block)
                    received += len(block)
                    if time.monotonic() - started > deadline:
                        raise DatasetError(
                            f"The download of {name!r} took longer than {deadline:g} s ({received:,} bytes "
                            f"so far) and was stopped; nothing was kept. On a slow connection pass a longer "
                            f"deadline: llmlab.data.download({name!r}, deadline=3600). "
                            + _offline_advice(entry)
                        )
        except urllib.error.HTTPError as exc:
            raise DatasetError(
                f"Could not download {name!r}: the server answered HTTP {exc.code} ({exc.reason}). "
                + _offline_advice(entry)
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DatasetError(
                f"Could not download {name!r} ({type(exc).__name__}: {reason}). You may be offline. "
                + _offline_advice(entry)
            ) from None
        if expected is not None and expected.isdigit() and received != int(expected):
            raise DatasetError(
                f"The download of {name!r} was cut off after {received:,} of {int(expected):,} bytes; "
                "nothing was kept. Try again later. " + _offline_advice(entry)
            )
        problem = _check_file(entry, Path(tmp))
        if problem is not None:
            raise DatasetError(
                f"The download of {name!r} was discarded: {problem}. The file at the source may have "
                "changed. " + _offline_advice(entry)
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def load_vectors(name: str = "glove-wiki-gigaword-50", limit: int | None = None):
    """Pretrained word vectors as gensim ``KeyedVectors`` (downloaded and verified once).

    The file is read with ``KeyedVectors.load_word2vec_format``, a plain-text
    parser: nothing downloaded is unpickled or executed (gensim's
    ``downloader.load`` would run a Python file fetched from the internet).
    ``limit`` keeps only the ``limit`` most frequent words (the file is sorted
    by frequency), which loads faster: all 400,000 words take about 80 MB and
    20-40 s on a 2-core CPU.
    """
    entry = get(name)
    if entry.kind != "vectors":
        raise DatasetError(
            f"{name!r} is a {entry.kind} set, not word vectors; vector sets: "
            + ", ".join(d.name for d in REGISTRY.values() if d.kind == "vectors")
            + "."
        )
    from gensim.models import KeyedVectors

    file = download(name)
    try:
        return KeyedVectors.load_word2vec_format(str(file), binary=False, limit=limit)
    except (ValueError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"The cached file {file.name} could not be read as word2vec text ({type(exc).__name__}: {exc}). "
            f"Delete it (llmlab.paths.cache_dir()) and load {name!r} again."
        ) from None
