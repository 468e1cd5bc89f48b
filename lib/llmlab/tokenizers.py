"""Tokenizers: how text becomes the integer ids a language model reads (lessons 04, 06, 08).

Two tokenizers, both small enough to read in one sitting:

* :class:`CharTokenizer` gives every distinct character of a training text its
  own id, as in Karpathy's char-level nanoGPT and ``makemore``.  Tiny
  vocabulary (93 ids for the course corpus), long sequences (one id per
  character).
* :class:`BPETokenizer` is byte-level byte-pair encoding, the scheme of GPT-2
  (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners",
  section 2.2) which adapts BPE (Sennrich et al. 2016, "Neural Machine
  Translation of Rare Words with Subword Units", https://arxiv.org/abs/1508.07909)
  to raw bytes.  It starts from the 256 possible byte values, so it can encode
  ANY text, and then learns ``vocab_size - 256`` merges: each merge replaces
  the most frequent adjacent pair of ids by a new id.  Fewer, longer tokens.

Both have the same small interface: ``encode(str) -> list[int]``,
``decode(ids) -> str``, ``vocab_size``, ``to_dict()`` / ``from_dict()`` (plain
JSON data, so a checkpoint stores its tokenizer without pickle).

>>> tok = CharTokenizer.from_text("hello world")
>>> tok.decode(tok.encode("hello"))
'hello'
"""

from __future__ import annotations

import numbers
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

from llmlab.errors import UsageError, check_int

__all__ = [
    "BPETokenizer",
    "CharTokenizer",
    "UnknownCharacterError",
    "tokenizer_from_dict",
]


class UnknownCharacterError(ValueError):
    """A text holds characters that a character tokenizer has no id for."""


def _as_int_list(ids: Iterable[int]) -> list[int]:
    """Accept a list, a tuple, a 1-D tensor or a NumPy array of ids."""
    if isinstance(ids, str):
        raise UsageError("decode() takes token ids, not text; to turn text into ids use encode().")
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    try:
        ids = list(ids)
    except TypeError:
        raise UsageError(
            f"decode() takes a sequence of token ids, got {type(ids).__name__}."
        ) from None
    if ids and isinstance(ids[0], list):
        raise UsageError(
            "decode() takes one sequence of ids, not a batch; decode each row separately."
        )
    bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, numbers.Integral)]
    if bad:
        raise UsageError(f"token ids must be integers, got {bad[0]!r} ({type(bad[0]).__name__}).")
    return [int(i) for i in ids]


# ---------------------------------------------------------------------------
# Characters
# ---------------------------------------------------------------------------


class CharTokenizer:
    """One id per distinct character, in sorted character order.

    Build it from the training text with :meth:`from_text`.  Encoding a text
    that holds a character the training text never had raises
    :class:`UnknownCharacterError` naming those characters (a char-level
    model has no embedding for them, so there is nothing sensible to feed it).
    """

    def __init__(self, chars: Sequence[str]):
        chars = list(chars)
        if not chars:
            raise ValueError("A CharTokenizer needs at least one character; the text was empty.")
        if any(len(c) != 1 for c in chars):
            raise ValueError("CharTokenizer(chars) takes single characters.")
        if len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer(chars): the characters must be distinct.")
        self.chars: list[str] = chars
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(chars)}  # string -> id
        self.itos: dict[int, str] = dict(enumerate(chars))  # id -> string

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The vocabulary of ``text``: its distinct characters, sorted."""
        if not isinstance(text, str):
            raise TypeError(f"from_text() takes a str, got {type(text).__name__}.")
        if not text:
            raise ValueError("Cannot build a vocabulary from an empty text.")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def unknown_characters(self, text: str) -> list[str]:
        """The distinct characters of ``text`` that have no id, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.stoi))

    def encode(self, text: str) -> list[int]:
        """``text`` -> one id per character."""
        if not isinstance(text, str):
            raise UsageError(f"encode() takes a str, got {type(text).__name__}.")
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            unknown = self.unknown_characters(text)
            shown = ", ".join(repr(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise UnknownCharacterError(
                f"The text has {len(unknown)} character(s) outside this tokenizer's vocabulary of "
                f"{self.vocab_size}: {shown}. Remove or replace them (e.g. straight quotes for curly "
                "ones), or train on a text that contains them."
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """ids -> text.  An id outside ``0 .. vocab_size-1`` raises a ValueError."""
        ids = _as_int_list(ids)
        bad = [i for i in ids if i not in self.itos]
        if bad:
            raise ValueError(
                f"ids {bad[:5]} are outside this vocabulary (0..{self.vocab_size - 1})."
            )
        return "".join(self.itos[i] for i in ids)

    def to_dict(self) -> dict:
        return {"type": "char", "chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, d: dict) -> CharTokenizer:
        if d.get("type") != "char":
            raise ValueError(f"Not a character tokenizer: type {d.get('type')!r}.")
        return cls(list(d["chars"]))

    def __len__(self) -> int:
        return self.vocab_size

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTokenizer) and self.chars == other.chars

    def __repr__(self) -> str:
        preview = "".join(self.chars[:40])
        return f"CharTokenizer(vocab_size={self.vocab_size}, chars={preview!r}{'...' if self.vocab_size > 40 else ''})"


# ---------------------------------------------------------------------------
# Byte-level BPE
# ---------------------------------------------------------------------------

#: How a text is cut into chunks before BPE, so that merges never cross them:
#: a letter run, a digit run or a punctuation run, each with at most one
#: leading space, and whitespace runs.  A simplified form of GPT-2's pattern
#: (its ``\p{L}`` / ``\p{N}`` classes need the third-party ``regex`` module).
#: Every character falls into one alternative, so the chunks join back to the text.
SPLIT_PATTERN = re.compile(r" ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+")


def _pair_counts(chunks: dict[tuple[int, ...], int]) -> Counter:
    """How often each adjacent pair of ids occurs, over chunks with multiplicities."""
    counts: Counter = Counter()
    for ids, freq in chunks.items():
        for pair in pairwise(ids):
            counts[pair] += freq
    return counts


def _merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> tuple[int, ...]:
    """Replace every occurrence of ``pair`` in ``ids`` (left to right) by ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)


class BPETokenizer:
    """Byte-level byte-pair encoding, trained with :meth:`train`.

    Ids 0..255 are the raw bytes of the UTF-8 encoding; id ``256 + k`` is the
    k-th learned merge ``merges[k] = (a, b)``.  Because every byte has an id,
    ``decode(encode(text)) == text`` for any string, including emoji and
    scripts the training text never had (they just cost more tokens).
    """

    def __init__(self, merges: Sequence[tuple[int, int]] = ()):
        self.merges: list[tuple[int, int]] = [(int(a), int(b)) for a, b in merges]
        self.ranks: dict[tuple[int, int], int] = {}  # pair -> the id it merges into
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}  # id -> bytes
        for k, (a, b) in enumerate(self.merges):
            new_id = 256 + k
            if a >= new_id or b >= new_id:
                raise ValueError(f"merge {k} uses an id ({a}, {b}) that does not exist yet.")
            self.ranks[(a, b)] = new_id
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int, verbose: bool = False) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text``.

        Each round counts adjacent id pairs inside every chunk (weighted by how
        often the chunk occurs), merges the most frequent pair into a new id
        (ties: the pair seen first), and stops early when no pair occurs twice.
        """
        if not isinstance(text, str):
            raise UsageError(f"BPETokenizer.train() takes a str, got {type(text).__name__}.")
        check_int("vocab_size", vocab_size)
        if vocab_size < 256:
            raise ValueError(
                f"A byte-level BPE needs vocab_size >= 256 (one id per byte), got {vocab_size}."
            )
        if not text:
            raise ValueError("Cannot train BPE on an empty text.")
        # Unique chunks with their counts: far fewer than the chunks themselves.
        chunks = {
            tuple(chunk.encode("utf-8")): n
            for chunk, n in Counter(SPLIT_PATTERN.findall(text)).items()
        }
        merges: list[tuple[int, int]] = []
        for new_id in range(256, vocab_size):
            counts = _pair_counts(chunks)
            if not counts:
                break
            pair, freq = max(counts.items(), key=lambda kv: kv[1])  # first maximum wins
            if freq < 2:
                break
            merges.append(pair)
            chunks = {
                (_merge(ids, pair, new_id) if pair[0] in ids else ids): n
                for ids, n in chunks.items()
            }
            if verbose:
                print(f"merge {new_id - 256 + 1}: {pair} -> {new_id} ({freq} times)")
        return cls(merges)

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

    def _encode_chunk(self, chunk: str) -> list[int]:
        cached = self._cache.get(chunk)
        if cached is not None:
            return cached
        ids: tuple[int, ...] = tuple(chunk.encode("utf-8"))
        while len(ids) >= 2:
            # Apply the earliest-learned merge present, as training did.
            pair = min(pairwise(ids), key=lambda p: self.ranks.get(p, float("inf")))
            if pair not in self.ranks:
                break
            ids = _merge(ids, pair, self.ranks[pair])
        if len(self._cache) < 100_000:
            self._cache[chunk] = list(ids)
        return list(ids)

    def split(self, text: str) -> list[str]:
        """The chunks BPE works inside (merges never cross a chunk boundary)."""
        chunks = SPLIT_PATTERN.findall(text)
        if "".join(chunks) != text:  # cannot happen with SPLIT_PATTERN; guard the invariant
            raise AssertionError("SPLIT_PATTERN lost characters")
        return chunks

    def encode(self, text: str) -> list[int]:
        """``text`` -> token ids (any string)."""
        if not isinstance(text, str):
            raise TypeError(f"encode() takes a str, got {type(text).__name__}.")
        out: list[int] = []
        for chunk in self.split(text):
            out.extend(self._encode_chunk(chunk))
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """ids -> text.  A cut through a multi-byte character shows as U+FFFD."""
        ids = _as_int_list(ids)
        bad = [i for i in ids if i not in self.vocab]
        if bad:
            raise ValueError(
                f"ids {bad[:5]} are outside this vocabulary (0..{self.vocab_size - 1})."
            )
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def token_bytes(self, i: int) -> bytes:
        """The bytes token ``i`` stands for."""
        return self.vocab[int(i)]

    def tokens(self, text: str) -> list[str]:
        """``text`` cut into its tokens, each shown as text (for display)."""
        return [self.token_bytes(i).decode("utf-8", errors="replace") for i in self.encode(text)]

    def to_dict(self) -> dict:
        return {"type": "bpe", "merges": [list(m) for m in self.merges]}

    @classmethod
    def from_dict(cls, d: dict) -> BPETokenizer:
        if d.get("type") != "bpe":
            raise ValueError(f"Not a BPE tokenizer: type {d.get('type')!r}.")
        return cls([tuple(m) for m in d["merges"]])

    def __len__(self) -> int:
        return self.vocab_size

    def __eq__(self, other) -> bool:
        return isinstance(other, BPETokenizer) and self.merges == other.merges

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)})"


def tokenizer_from_dict(d: dict) -> CharTokenizer | BPETokenizer:
    """Rebuild a tokenizer saved with ``to_dict()`` (its ``"type"`` says which)."""
    kinds: dict[str, type[CharTokenizer] | type[BPETokenizer]] = {
        "char": CharTokenizer,
        "bpe": BPETokenizer,
    }
    kind = d.get("type") if isinstance(d, dict) else None
    if kind not in kinds:
        raise ValueError(f"Unknown tokenizer type {kind!r}; expected one of {sorted(kinds)}.")
    field = {"char": "chars", "bpe": "merges"}[kind]
    if not isinstance(d.get(field), str if kind == "char" else list):
        raise UsageError(
            f"A saved {kind} tokenizer needs its {field!r} field; this one is missing or damaged."
        )
    try:
        return kinds[kind].from_dict(d)
    except (TypeError, ValueError) as e:
        raise UsageError(f"The saved {kind} tokenizer is damaged: {e}") from None
