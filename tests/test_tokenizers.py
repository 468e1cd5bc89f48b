"""Tests for llmlab.tokenizers: character and byte-level BPE tokenizers."""

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab.tokenizers import (
    SPLIT_PATTERN,
    BPETokenizer,
    CharTokenizer,
    UnknownCharacterError,
    tokenizer_from_dict,
)

TEXT = "The cat sat on the mat. The dog sat on the log! 123 cats, 45 dogs.\n\nThe end."


# --- characters -------------------------------------------------------------


def test_char_vocab_is_sorted_distinct_characters():
    tok = CharTokenizer.from_text("banana")
    assert tok.chars == ["a", "b", "n"]
    assert tok.vocab_size == 3
    assert tok.encode("nab") == [2, 0, 1]
    assert tok.decode([2, 0, 1]) == "nab"


def test_char_round_trip_and_tensor_input():
    tok = CharTokenizer.from_text(TEXT)
    ids = tok.encode(TEXT)
    assert len(ids) == len(TEXT)
    assert tok.decode(ids) == TEXT
    assert tok.decode(torch.tensor(ids)) == TEXT


def test_char_unknown_characters_are_named():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(UnknownCharacterError) as err:
        tok.encode("abzcé z")
    message = str(err.value)
    assert "'z'" in message and "'é'" in message and "' '" in message
    assert "3 character(s)" in message  # distinct ones, counted once
    assert "Remove or replace" in message
    assert isinstance(err.value, ValueError)


def test_char_errors():
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer.from_text("")
    tok = CharTokenizer.from_text("ab")
    with pytest.raises(ValueError, match="outside"):
        tok.decode([0, 5])


def test_char_to_dict_is_json_and_round_trips():
    tok = CharTokenizer.from_text(TEXT)
    d = json.loads(json.dumps(tok.to_dict()))
    assert CharTokenizer.from_dict(d) == tok
    assert tokenizer_from_dict(d) == tok


@given(st.text(min_size=1))
@settings(max_examples=200, deadline=None)
def test_char_round_trip_property(text):
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text


# --- byte-level BPE ---------------------------------------------------------


def test_bpe_wikipedia_example():
    # The example from Wikipedia's "Byte pair encoding" article: aaabdaaabac.
    # Merges: (a,a)->256; then "Za" and "ab" tie (2 each), the first seen wins:
    # (256,a)->257; then (257,b)->258, leaving 258 d 258 a c.
    tok = BPETokenizer.train("aaabdaaabac", vocab_size=259)
    a, b = ord("a"), ord("b")
    assert tok.merges == [(a, a), (256, a), (257, b)]
    ids = tok.encode("aaabdaaabac")
    assert ids == [258, ord("d"), 258, a, ord("c")]
    assert tok.token_bytes(258) == b"aaab"
    assert tok.decode(ids) == "aaabdaaabac"


def test_bpe_stops_when_no_pair_repeats():
    tok = BPETokenizer.train("abcdef", vocab_size=300)
    assert tok.vocab_size == 256


def test_bpe_compresses_and_merges_stay_inside_chunks():
    tok = BPETokenizer.train(TEXT * 5, vocab_size=300)
    ids = tok.encode(TEXT)
    assert len(ids) < len(TEXT.encode("utf-8")) / 2
    assert tok.decode(ids) == TEXT
    # no token spans two chunks, e.g. a word and the space after it
    for t in tok.tokens(TEXT):
        assert len(SPLIT_PATTERN.findall(t)) == 1
    assert " the" in tok.tokens("on the mat") or " the" in tok.tokens(" the")


def test_bpe_encodes_unseen_scripts_and_emoji():
    tok = BPETokenizer.train(TEXT, vocab_size=280)
    text = "naïve café 東京 🙂 \x00\t"
    assert tok.decode(tok.encode(text)) == text


def test_bpe_split_pattern_covers_every_character():
    text = "a_b __x ²³ ½ x\u00a0y \r\n\n  end"
    assert "".join(SPLIT_PATTERN.findall(text)) == text


def test_bpe_to_dict_round_trips():
    tok = BPETokenizer.train(TEXT, vocab_size=290)
    d = json.loads(json.dumps(tok.to_dict()))
    again = tokenizer_from_dict(d)
    assert again == tok
    assert again.encode(TEXT) == tok.encode(TEXT)


def test_bpe_errors():
    with pytest.raises(ValueError, match="256"):
        BPETokenizer.train(TEXT, vocab_size=100)
    with pytest.raises(ValueError, match="empty"):
        BPETokenizer.train("", vocab_size=300)
    with pytest.raises(ValueError, match="Unknown tokenizer type"):
        tokenizer_from_dict({"type": "wordpiece"})


_BPE = BPETokenizer.train(TEXT * 3 + " naïve 東京 🙂🙂", vocab_size=320)


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_bpe_round_trips_any_text(text):
    ids = _BPE.encode(text)
    assert all(0 <= i < _BPE.vocab_size for i in ids)
    assert _BPE.decode(ids) == text


@given(st.text(min_size=1, max_size=200), st.integers(min_value=256, max_value=400))
@settings(max_examples=40, deadline=None)
def test_bpe_trained_on_any_text_round_trips_it(text, vocab_size):
    tok = BPETokenizer.train(text, vocab_size=vocab_size)
    assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode(text)) <= len(text.encode("utf-8"))
