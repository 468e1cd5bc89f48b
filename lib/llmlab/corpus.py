"""The course's embedded corpus, built from text that ships inside gensim.

Lesson 00 shows how it is built; ``llmlab.data`` serves it to the lessons that train on it.

gensim's test data holds a shortened dump of 100+ real English Wikipedia
articles (``enwiki-latest-pages-articles1...-shortened.bz2``) and the Lee news
corpus (``lee_background.cor`` and ``lee.cor``: 350 short news stories from
the Australian Broadcasting Corporation, Lee et al. 2005).  This module turns
them into clean English prose with case and punctuation kept: wiki markup,
lists, tables and references are removed, and typography is folded to ASCII
so that a character-level model sees a small alphabet.

The result is deterministic for a given gensim release; ``EXPECTED_SHA256``
records the text the course was built and its checkpoint trained on.
"""

from __future__ import annotations

import bz2
import re
import unicodedata
from collections.abc import Iterator

WIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
NEWS_FILES = ("lee_background.cor", "lee.cor")

#: SHA-256 of the corpus text (UTF-8) as built from gensim 4.4's test data: the text the
#: course's outputs and its checkpoint come from.  ``llmlab.data`` checks its cache against it.
EXPECTED_SHA256 = "b9732b742b424c11cc355f6257e014eb6abdb9e798aeab117f29723d1e826df7"

# Typography that has a plain ASCII spelling.
_ASCII_FOLD = str.maketrans(
    {
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u00a0": " ",
        "\u2009": " ",
        "\u200a": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2026": "...",
        "\u00d7": "x",
        "\u00b0": " degrees",
    }
)
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_SKIP_LINE_START = (
    "=",
    "*",
    "#",
    ":",
    ";",
    "|",
    "{",
    "}",
    "!",
    "<",
    "[",
    "Category:",
    "File:",
    "Image:",
    "thumb",
)


def fold_to_ascii(text: str) -> str:
    """Fold typography and accents to ASCII ("Hébert" -> "Hebert"); other characters stay."""
    text = text.translate(_ASCII_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def clean_paragraph(text: str) -> str | None:
    """One paragraph of wiki text after gensim's ``filter_wiki``, as clean prose, or None to drop it."""
    text = fold_to_ascii(text.strip())
    text = text.replace("'''", "").replace("''", "")
    text = re.sub(r"&[a-z]+;", " ", text)  # leftover HTML entities
    # Templates that filter_wiki removed leave empty or comma-only brackets behind.
    for _ in range(2):
        text = re.sub(r"\(\s*[,;:]?\s*(or|and)?\s*[,;:]?\s*\)", "", text)
    text = re.sub(r"\s+([,.;:!?)])", r"\1", text)
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r"[ \t]+", " ", text).strip()
    if len(text) < 120 or not _PRINTABLE.match(text):
        return None
    if text.startswith(_SKIP_LINE_START) or not text.endswith((".", '"', "!", "?")):
        return None
    if text.count(".") < 2 or "http" in text or "{{" in text or "}}" in text:
        return None
    return text


def wiki_paragraphs(path: str) -> Iterator[str]:
    """Clean paragraphs of the Wikipedia articles in gensim's shortened dump, in file order."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    with bz2.open(path) as f:
        for _title, text, _page_id in extract_pages(f):
            if text.lower().startswith("#redirect"):
                continue
            for paragraph in filter_wiki(text).split("\n"):
                cleaned = clean_paragraph(paragraph)
                if cleaned:
                    yield cleaned


def news_paragraphs(path: str) -> Iterator[str]:
    """The Lee news stories, one paragraph each, in file order."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            text = re.sub(r"\s+", " ", fold_to_ascii(line)).strip()
            if len(text) >= 120 and _PRINTABLE.match(text):
                yield text


def build_wiki_news_text() -> str:
    """The embedded corpus: Wikipedia paragraphs, then the news stories, separated by blank lines."""
    from gensim.test.utils import datapath

    paragraphs = list(wiki_paragraphs(datapath(WIKI_FILE)))
    for name in NEWS_FILES:
        paragraphs.extend(news_paragraphs(datapath(name)))
    return "\n\n".join(paragraphs) + "\n"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences at ., ! or ? followed by a capital letter (a simple, honest heuristic)."""
    sentences: list[str] = []
    for paragraph in text.split("\n\n"):
        sentences.extend(s for s in _SENTENCE_END.split(paragraph.strip()) if s)
    return sentences


def tokenize_words(sentence: str) -> list[str]:
    """Lower-cased words of a sentence: letters and digits, inner hyphens and apostrophes kept."""
    return _WORD.findall(sentence.lower())
