"""llmlab.environment: the environment check (no network) and the lesson run-time table of lesson 00."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from llmlab import course, environment, measure


def test_report_reads_no_network_and_covers_the_essentials(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMLAB_CACHE", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("the environment report tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    rows = dict(environment.report(torch.device("cpu")))
    for key in (
        "Python",
        "torch",
        "gensim",
        "ipywidgets",
        "device",
        "torch threads",
        "memory available",
    ):
        assert rows[key], key
    assert rows["torch"] == torch.__version__
    assert rows["device"].startswith("cpu")
    assert rows["torch threads"] == str(torch.get_num_threads())
    assert rows["embedded data (gensim)"].startswith("present")
    assert "built on first use" in rows["embedded data (gensim)"]  # the cache is empty here
    assert rows["optional: tiny-shakespeare"].startswith("not downloaded")
    assert rows["optional: glove-wiki-gigaword-50"].startswith("not downloaded")


def test_report_sees_a_download_in_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMLAB_CACHE", str(tmp_path))
    (tmp_path / "tiny-shakespeare.txt").write_bytes(b"x" * 1_115_394)
    rows = dict(environment.report(torch.device("cpu")))
    assert rows["optional: tiny-shakespeare"] == "in the cache"


def test_missing_package_is_reported_not_raised():
    assert environment.package_version("no-such-package-llmlab") == "missing"


def test_lesson_runs_with_and_without_records(tmp_path):
    rows = environment.lesson_runs({})
    assert [r["lesson"] for r in rows] == [x.stem for x in course.LESSONS]
    assert all(r["run time"] == environment.NOT_MEASURED for r in rows)

    records = {
        "04_mini_gpt.ipynb": {"notebook": "04_mini_gpt.ipynb", "wall_s": 171.4, "peak_mb": 1210},
        "00_start_here.ipynb": {"notebook": "00_start_here.ipynb", "wall_s": 12.2, "peak_mb": 400},
    }
    file = tmp_path / "runs.json"
    file.write_text(json.dumps(records))
    rows = {r["lesson"]: r for r in environment.lesson_runs(environment.load_run_records(file))}
    assert (
        rows["04_mini_gpt"]["run time"] == "2.9 min"
        and rows["04_mini_gpt"]["peak memory"] == "1210 MB"
    )
    assert rows["00_start_here"]["run time"] == "12 s"
    assert rows["01_word_embeddings"]["run time"] == environment.NOT_MEASURED

    table = measure.format_table(list(rows.values()), align="left").splitlines()
    assert table[0].split() == ["lesson", "title", "step", "run", "time", "peak", "memory"]
    assert len(table) == 2 + len(course.LESSONS)
    assert len({len(line.rstrip()) <= len(table[1]) for line in table}) == 1


def test_unreadable_run_records_mean_no_records(tmp_path):
    bad = tmp_path / "runs.json"
    bad.write_text("{not json")
    assert environment.load_run_records(bad) == {}
    assert environment.load_run_records(tmp_path / "missing.json") == {}


def test_check_internet_online_and_offline():
    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert environment.check_internet(url).startswith("online: ")
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    message = environment.check_internet(f"http://127.0.0.1:{port}/", timeout=2)
    assert message.startswith("offline") and "embedded data" in message


@pytest.mark.parametrize(
    "seconds, text", [(5.04, "5 s"), (89, "89 s"), (90, "1.5 min"), (600, "10.0 min")]
)
def test_run_time_wording(seconds, text):
    assert environment._minutes(seconds) == text
