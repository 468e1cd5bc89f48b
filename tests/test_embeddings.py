"""Tests for llmlab.embeddings (gensim word2vec and the queries), its figures and its exercise checkers."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from llmlab import data, embedding_eval
from llmlab import embeddings as emb
from llmlab.exercises import embeddings as ex
from llmlab.plots import embeddings as plots

TOY = [
    ["the", "king", "rules", "the", "land"],
    ["the", "queen", "rules", "the", "land"],
    ["a", "dog", "chases", "a", "cat"],
]


@pytest.fixture(scope="module")
def sentences():
    return data.load_sentences("wiki-news")


@pytest.fixture(scope="module")
def small_kv(sentences):
    """Quick vectors from a fifth of the corpus: enough words for the query and plot tests."""
    return emb.train_word2vec(sentences[:4000], epochs=2, progress=False).wv


def _kv(words, vectors):
    return emb.to_keyed_vectors(words, np.asarray(vectors, dtype=np.float32))


# ----------------------------------------------------------------- gensim training


def test_train_word2vec_is_reproducible(sentences):
    a = emb.train_word2vec(sentences[:2000], epochs=1, progress=False).wv
    b = emb.train_word2vec(sentences[:2000], epochs=1, progress=False).wv
    c = emb.train_word2vec(sentences[:2000], epochs=1, seed=1, progress=False).wv
    assert a.index_to_key == b.index_to_key
    assert np.array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, c.vectors)


_FINGERPRINT = (
    "from llmlab import embeddings as emb;"
    "m = emb.train_word2vec({toy!r}, epochs=2, min_count=1, progress=False);"
    "print(float(m.wv.vectors.sum()).hex())"
)


@pytest.mark.slow
def test_train_word2vec_does_not_depend_on_pythonhashseed():
    code = _FINGERPRINT.format(toy=TOY)
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
    assert len(outs) == 1


def test_train_word2vec_rejects_strings():
    with pytest.raises(TypeError, match="lists of words"):
        emb.train_word2vec(["a sentence as one string"], progress=False)


def test_stable_hash_is_crc32():
    import zlib

    assert emb.stable_hash("king") == zlib.crc32(b"king")


@pytest.mark.slow
def test_course_defaults_reach_the_quality_bar(sentences):
    model = emb.train_word2vec(sentences, progress=False)
    ev = embedding_eval.evaluate(model, analogies=False)
    assert ev.wordsim353 >= 0.40
    assert ev.wordsim353_coverage > 0.5


# ----------------------------------------------------------------- queries


def test_unknown_word_suggests_close_spellings(small_kv):
    with pytest.raises(emb.UnknownWordError, match="Did you mean 'government'"):
        emb.nearest(small_kv, "goverment")
    with pytest.raises(emb.UnknownWordError, match="lower-case"):
        emb.similarity(small_kv, "Government", "state")
    with pytest.raises(KeyError):  # still a KeyError for code that catches those
        emb.analogy(small_kv, "man", "woman", "qwzx")


def test_nearest_matches_brute_force_cosine():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(50)]
    x = rng.standard_normal((50, 8))
    kv = _kv(words, x)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = unit @ unit[3]
    order = [i for i in np.argsort(-cos) if i != 3][:5]
    got = emb.nearest(kv, "w3", 5)
    assert [w for w, _ in got] == [words[i] for i in order]
    assert np.allclose([s for _, s in got], cos[order], atol=1e-5)
    assert emb.similarity(kv, "w3", "w7") == pytest.approx(cos[7], abs=1e-5)


def test_analogy_is_3cosadd_excluding_the_question_words():
    words = ["man", "woman", "king", "queen", "prince"]
    vecs = [[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [1.1, 0.05, 1.0]]
    kv = _kv(words, vecs)
    assert emb.analogy(kv, "man", "woman", "king")[0][0] == "queen"


def test_offset_consistency_is_one_for_a_shared_offset_and_low_for_random_ones():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 32))
    words = ["a", "b", "c", "d", "A", "B", "C", "D"]
    kv = _kv(words, np.concatenate([base, base + 2.0]))
    pairs = [("a", "A"), ("b", "B"), ("c", "C")]
    # unit-normalising changes the offsets a little, so compare with the direct computation
    d = np.stack([kv.get_vector(y, norm=True) - kv.get_vector(x, norm=True) for x, y in pairs])
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    assert emb.offset_consistency(kv, pairs) == pytest.approx(
        (d @ d.T)[np.triu_indices(3, 1)].mean(), abs=1e-6
    )
    # unit vectors whose offsets point the same way: reflections through one plane
    vecs = [[0.6, 0.8, 0, 0], [0.6, -0.8, 0, 0], [0, 0.6, 0.8, 0], [0, -0.6, 0.8, 0]]
    same = _kv(["a", "A", "b", "B"], vecs)
    assert emb.offset_consistency(same, [("a", "A"), ("b", "B")]) == pytest.approx(1.0, abs=1e-6)
    rand = _kv(words, rng.standard_normal((8, 256)))
    assert abs(emb.offset_consistency(rand, pairs)) < 0.3


def test_neighbour_table_lists_neighbours_and_unknown_words(small_kv):
    table = emb.neighbour_table(small_kv, ["government", "zzzzq"], k=3)
    rows = table.splitlines()
    assert len(rows) == 2 and rows[0].count(",") == 2
    assert "not in the vocabulary" in rows[1]


def test_skipgram_pairs_of_a_sentence():
    pairs = emb.skipgram_pairs(["a", "b", "c"], window=1)
    assert pairs == [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")]
    assert len(emb.skipgram_pairs(list("abcdef"), window=2)) == 2 * (5 + 4)


def test_to_keyed_vectors_checks_shapes():
    with pytest.raises(ValueError, match="shape"):
        emb.to_keyed_vectors(["a", "b"], np.zeros((3, 4)))


# ----------------------------------------------------------------- export and figures


def test_export_projector_tsv(tmp_path, small_kv):
    words = ["government", "state", "war"]
    vec, meta = emb.export_projector_tsv(small_kv, tmp_path, words, labels={"war": "conflict"})
    rows = vec.read_text().splitlines()
    assert len(rows) == 3
    assert np.allclose([float(x) for x in rows[2].split("\t")], small_kv["war"], atol=1e-5)
    assert meta.read_text().splitlines() == [
        "word\tgroup",
        "government\tother",
        "state\tother",
        "war\tconflict",
    ]
    _, meta2 = emb.export_projector_tsv(small_kv, tmp_path / "plain", words)
    assert meta2.read_text().splitlines() == words


def test_word_groups_keep_only_known_words(small_kv):
    groups = emb.word_groups(small_kv, {"a": ["government", "zzzzq"], "b": ["zzzzq"]})
    assert groups == {"a": ["government"]}


def test_projection_scatter_has_hover_labels_and_groups(small_kv):
    groups = emb.word_groups(small_kv)
    fig = plots.projection_scatter(small_kv, small_kv.index_to_key[:60], groups)
    names = {t.name for t in fig.data}
    assert "other" in names and set(groups) <= names
    assert all(len(t.text) == len(t.x) for t in fig.data)
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    fig3 = plots.projection_scatter(
        small_kv, small_kv.index_to_key[:40], method="tsne", dim=3, iterations=300
    )
    assert fig3.data[0].type == "scatter3d"


def test_relation_arrows_draw_one_arrow_per_pair(small_kv):
    words = small_kv.index_to_key[20:24]
    fig = plots.relation_arrows(small_kv, [(words[0], words[1]), (words[2], words[3])])
    assert len(fig.layout.annotations) == 2


def test_neighbour_explorer_shows_a_static_table(small_kv, capsys):
    box = plots.neighbour_explorer(small_kv, "government", k=5, choices=["war"])
    printed = capsys.readouterr().out
    assert printed.startswith("government |") and "\nwar " in printed
    text = box.children[0].children[0]
    text.value = "zzzzq"  # the observer runs and must not raise
    assert box.children[1] is not None


# ----------------------------------------------------------------- exercise checkers


def test_exercise_checkers(small_kv, capsys):
    kv = small_kv
    u, v = kv["government"], kv["state"]
    assert ex.check_cosine_similarity(
        float(u @ v / np.linalg.norm(u) / np.linalg.norm(v)), kv, "government", "state"
    )
    assert not ex.check_cosine_similarity(float(u @ v), kv, "government", "state")
    assert "dot product" in capsys.readouterr().out
    assert not ex.check_cosine_similarity(None, kv, "government", "state")

    # three months close together and one word pointing elsewhere: the odd one is known by construction
    built = _kv(
        ["january", "march", "july", "government"],
        [[1, 0.1, 0], [1, 0, 0.1], [1, 0.1, 0.1], [0, 1, -1]],
    )
    words = ["january", "march", "july", "government"]
    assert ex.check_odd_one_out("government", built, words)
    assert not ex.check_odd_one_out("march", built, words)
    assert not ex.check_odd_one_out("paris", built, words)

    tokens = ["the", "cat", "sat", "down"]
    by_hand = [  # every word with its neighbours one position left and right
        ("the", "cat"),
        ("cat", "the"),
        ("cat", "sat"),
        ("sat", "cat"),
        ("sat", "down"),
        ("down", "sat"),
    ]
    assert ex.check_skipgram_pairs(by_hand, tokens, 1)
    assert not ex.check_skipgram_pairs(by_hand[:-1], tokens, 1)
    assert "missing" in capsys.readouterr().out
    assert not ex.check_skipgram_pairs(by_hand + [("cat", "cat")], tokens, 1)
    assert "own context" in capsys.readouterr().out
