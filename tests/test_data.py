"""llmlab.data: the registry, verified downloads (through a local HTTP server) and the embedded corpus.

No test here touches the outside network: downloads come from a server on
127.0.0.1 started by the tests, and every test uses a temporary cache folder.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from llmlab import corpus, data
from llmlab.data import DatasetError

# ------------------------------------------------------------------ fixtures


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (behaviour, payload)``; counts the requests it got."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.hits.append(self.path)
        behaviour, payload = self.server.routes.get(self.path, ("missing", b""))
        if behaviour == "missing":
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if behaviour == "raise":
            # No Content-Length: the body ends when the connection closes, here
            # after half of it, because the handler crashes.
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            raise ConnectionAbortedError("the test server gives up mid-body")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if behaviour == "truncate":
            # Promise the whole file, send half, close the connection.
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, *args):  # keep pytest's output clean
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # the "raise" route crashes on purpose
        pass


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 (a free port), stopped after the test."""
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    httpd.routes = {}
    httpd.hits = []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh, empty LLMLAB_CACHE for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("LLMLAB_CACHE", str(folder))
    monkeypatch.setattr(data, "_text_memo", {})
    return folder


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PAYLOAD = b"To be, or not to be, that is the question.\n" * 2000  # 88 kB


def _register(monkeypatch, url: str, payload: bytes = PAYLOAD, **changes) -> data.Dataset:
    """Put a test download entry called "test-text" into the registry (for this test only)."""
    entry = dataclasses.replace(
        data.REGISTRY["tiny-shakespeare"],
        name="test-text",
        url=url,
        sha256=hashlib.sha256(payload).hexdigest(),
        size_bytes=len(payload),
        filename="test-text.txt",
    )
    entry = dataclasses.replace(entry, **changes)
    monkeypatch.setitem(data.REGISTRY, entry.name, entry)
    return entry


def _files(folder: Path) -> list[str]:
    """Every file under ``folder``, hidden and partial ones included."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ------------------------------------------------------------------ downloads


def test_download_through_local_server_then_reused_from_cache(server, cache, monkeypatch):
    server.routes["/shakespeare.txt"] = ("ok", PAYLOAD)
    _register(monkeypatch, server.url + "/shakespeare.txt")

    first = data.download("test-text")
    assert first.read_bytes() == PAYLOAD
    assert first.parent == cache
    assert _files(cache) == ["test-text.txt"]  # no temporary file left beside it
    assert data.is_downloaded("test-text")

    second = data.download("test-text")
    assert second == first
    assert server.hits == ["/shakespeare.txt"]  # the second call did not ask the server
    assert data.load_text("test-text") == PAYLOAD.decode()


def test_checksum_mismatch_is_rejected_and_nothing_is_kept(server, cache, monkeypatch):
    server.routes["/changed.txt"] = ("ok", PAYLOAD.replace(b"question", b"answer!!"))  # same size
    _register(monkeypatch, server.url + "/changed.txt")

    with pytest.raises(
        DatasetError, match=r"discarded: its SHA-256 is [0-9a-f]{64}, expected"
    ) as err:
        data.download("test-text")
    assert "wiki-news" in str(err.value)  # names the embedded alternative
    assert _files(cache) == []
    assert not data.is_downloaded("test-text")


def test_size_mismatch_is_rejected(server, cache, monkeypatch):
    server.routes["/longer.txt"] = ("ok", PAYLOAD + b"extra")
    _register(monkeypatch, server.url + "/longer.txt")
    with pytest.raises(DatasetError, match="bytes, expected"):
        data.download("test-text")
    assert _files(cache) == []


@pytest.mark.parametrize("behaviour", ["truncate", "raise"])
def test_interrupted_download_leaves_nothing_behind(server, cache, monkeypatch, behaviour):
    server.routes["/cut.txt"] = (behaviour, PAYLOAD)
    _register(monkeypatch, server.url + "/cut.txt")

    with pytest.raises(DatasetError) as err:
        data.download("test-text")
    message = str(err.value)
    assert "cut off" in message or "discarded" in message or "Could not download" in message
    assert "wiki-news" in message
    assert _files(cache) == []

    # The next attempt, with the server healthy again, succeeds.
    server.routes["/cut.txt"] = ("ok", PAYLOAD)
    assert data.download("test-text").read_bytes() == PAYLOAD


def test_offline_names_the_embedded_alternative(cache, monkeypatch):
    _register(monkeypatch, f"http://127.0.0.1:{_closed_port()}/shakespeare.txt")
    with pytest.raises(DatasetError, match="offline") as err:
        data.load_text("test-text")
    assert "'wiki-news'" in str(err.value)
    assert "llmlab.data.load_text('wiki-news')" in str(err.value)
    assert _files(cache) == []


def test_http_error_is_reported_with_its_status(server, cache, monkeypatch):
    _register(monkeypatch, server.url + "/nowhere.txt")
    with pytest.raises(DatasetError, match="HTTP 404"):
        data.download("test-text")
    assert _files(cache) == []


def test_entry_without_checksum_is_refused_before_any_request(server, cache, monkeypatch):
    server.routes["/shakespeare.txt"] = ("ok", PAYLOAD)
    _register(monkeypatch, server.url + "/shakespeare.txt", sha256=None, md5=None)
    with pytest.raises(DatasetError, match="no recorded checksum.*wiki-news"):
        data.download("test-text")
    assert server.hits == []


def test_corrupt_cached_file_gives_a_clear_error(server, cache, monkeypatch):
    server.routes["/shakespeare.txt"] = ("ok", PAYLOAD)
    _register(monkeypatch, server.url + "/shakespeare.txt")
    path = data.download("test-text")
    path.write_bytes(PAYLOAD[:-10] + b"0123456789")  # same size, different content

    with pytest.raises(DatasetError, match="corrupt: its SHA-256 is .*Delete it"):
        data.load_text("test-text")
    with pytest.raises(DatasetError) as err:
        data.download("test-text")
    assert str(cache) not in str(err.value)  # names the file, not this machine's folder
    assert server.hits == [
        "/shakespeare.txt"
    ]  # a corrupt cache is reported, not silently refetched


def test_md5_verified_vectors_load_with_gensims_text_reader(server, cache, monkeypatch):
    """The GloVe path: a gzipped word2vec text file, verified by MD5 + size, read without pickle."""
    words = ["the", "king", "queen", "man", "woman"]
    vectors = np.random.default_rng(0).normal(size=(len(words), 4)).round(5)
    lines = [f"{len(words)} 4"] + [
        w + " " + " ".join(f"{x:.5f}" for x in v) for w, v in zip(words, vectors, strict=True)
    ]
    payload = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    server.routes["/vectors.gz"] = ("ok", payload)
    entry = dataclasses.replace(
        data.REGISTRY["glove-wiki-gigaword-50"],
        name="test-vectors",
        url=server.url + "/vectors.gz",
        md5=hashlib.md5(payload).hexdigest(),
        size_bytes=len(payload),
        filename="test-vectors.gz",
    )
    monkeypatch.setitem(data.REGISTRY, entry.name, entry)

    kv = data.load_vectors("test-vectors")
    assert kv.index_to_key == words
    np.testing.assert_allclose(kv["queen"], vectors[2], atol=1e-5)
    assert len(data.load_vectors("test-vectors", limit=2)) == 2
    assert server.hits == ["/vectors.gz"]

    # A wrong MD5 is rejected like a wrong SHA-256.
    monkeypatch.setitem(data.REGISTRY, "test-vectors", dataclasses.replace(entry, md5="0" * 32))
    (cache / "test-vectors.gz").unlink()
    with pytest.raises(DatasetError, match="MD5 is .*expected 0{32}") as err:
        data.load_vectors("test-vectors")
    assert "Word2Vec" in str(err.value) and "wiki-news" in str(err.value)
    assert _files(cache) == []


def test_load_vectors_rejects_a_text_corpus():
    with pytest.raises(DatasetError, match="not word vectors.*glove-wiki-gigaword-50"):
        data.load_vectors("wiki-news")
    with pytest.raises(DatasetError, match="load_vectors"):
        data.load_text("glove-wiki-gigaword-50")


# ------------------------------------------------------------------ the registry


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(DatasetError) as err:
        data.load_text("wiki-new")
    message = str(err.value)
    assert "Did you mean 'wiki-news'?" in message
    for name in data.REGISTRY:
        assert name in message


def test_every_entry_is_described_and_every_download_is_verifiable():
    rows = data.list_datasets()
    assert [r["name"] for r in rows] == list(data.REGISTRY)
    for row in rows:
        for field in ("kind", "size", "description", "licence", "source"):
            assert row[field], (row["name"], field)
    for entry in data.REGISTRY.values():
        if entry.embedded:
            continue
        assert entry.url.startswith("https://"), entry.name
        assert entry.size_bytes, entry.name
        assert entry.sha256 or entry.md5, entry.name
        if entry.sha256:
            assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
        if entry.md5:
            assert re.fullmatch(r"[0-9a-f]{32}", entry.md5)
        assert entry.alternative in data.REGISTRY and data.REGISTRY[entry.alternative].embedded


def test_optional_downloads_are_the_issues_two():
    shakespeare = data.get("tiny-shakespeare")
    assert shakespeare.size_bytes == 1_115_394 and shakespeare.sha256
    assert shakespeare.url.endswith("karpathy/char-rnn/master/data/tinyshakespeare/input.txt")
    glove = data.get("glove-wiki-gigaword-50")
    assert glove.kind == "vectors" and glove.filename.endswith(".gz")
    # the .gz word2vec text file itself, never gensim-data's __init__.py loader
    assert glove.url.endswith("/glove-wiki-gigaword-50/glove-wiki-gigaword-50.gz")


def test_gensim_test_data_files_exist():
    for name in ("wordsim353", "simlex999", "google-analogies"):
        path = data.path(name)
        assert path.is_file() and path.stat().st_size > 1000, name


# ------------------------------------------------------------------ the embedded corpus


@pytest.fixture(scope="module")
def built_text(tmp_path_factory):
    """The embedded corpus built from scratch in an empty cache, watching what the build reads."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LLMLAB_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.setattr(data, "_text_memo", {})
    import gensim.test.utils

    asked = []
    real_datapath = gensim.test.utils.datapath

    def recording_datapath(name):
        asked.append(name)
        return real_datapath(name)

    def no_network(*args, **kwargs):
        raise AssertionError("building the embedded corpus tried to use the network")

    mp.setattr(gensim.test.utils, "datapath", recording_datapath)
    mp.setattr(socket.socket, "connect", no_network)
    try:
        text = data.load_text("wiki-news")
        sentences = data.load_sentences("wiki-news")
        yield text, sentences, asked, real_datapath
    finally:
        mp.undo()


def test_embedded_corpus_is_built_only_from_gensims_files(built_text):
    text, _, asked, real_datapath = built_text
    assert sorted(asked) == sorted([corpus.WIKI_FILE, *corpus.NEWS_FILES])
    import gensim

    gensim_dir = Path(gensim.__file__).resolve().parent
    for name in asked:
        assert gensim_dir in Path(real_datapath(name)).resolve().parents
    # Both sources are in it: the first Wikipedia article and the Lee news stories.
    assert text.startswith("Anarchism is a political philosophy")
    with open(real_datapath("lee_background.cor"), encoding="utf-8", errors="replace") as f:
        first_story = corpus.fold_to_ascii(f.readline()).split()
    assert " ".join(first_story[:12]) in " ".join(text.split())


def test_embedded_corpus_is_clean_prose(built_text):
    text = built_text[0]
    assert len(text.encode()) >= 1_000_000
    assert set(text) <= {chr(c) for c in range(32, 127)} | {"\n"}
    for needle in ("[[", "]]", "{{", "}}", "==", "<ref", "&nbsp;", "http"):
        assert needle not in text, needle
    assert re.search(r"[A-Z]", text) and re.search(r"[a-z]", text)
    for mark in ".,;:'\"()?!-":
        assert mark in text, mark
    paragraphs = text.split("\n\n")
    assert len(paragraphs) > 1000
    assert all(p.strip() and "\n" not in p.strip() for p in paragraphs)


def test_embedded_corpus_is_cached_and_reloaded_identically(built_text, tmp_path, monkeypatch):
    text = built_text[0]
    monkeypatch.setenv("LLMLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(data, "_text_memo", {})
    (tmp_path / "wiki-news.txt").write_text(text, encoding="utf-8")
    assert data.load_text("wiki-news") == text
    assert data.path("wiki-news").read_text(encoding="utf-8") == text


def test_sentences_are_lower_cased_word_lists(built_text):
    _, sentences, _, _ = built_text
    assert len(sentences) > 10_000
    words = [w for s in sentences for w in s]
    assert len(words) > 300_000
    assert all(
        w == w.lower() and re.fullmatch(r"[a-z0-9]+(?:['-][a-z0-9]+)*", w) for w in words[:50_000]
    )
    assert ["anarchism", "is", "a", "political", "philosophy"] == sentences[0][:5]
