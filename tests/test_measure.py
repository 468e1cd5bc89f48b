"""Tests for llmlab.measure: the memory tracker against tensors of known size, the clocks, the tables."""

import time

import pytest
import torch

from llmlab import measure


def test_peak_memory_counts_live_tensors_not_freed_ones():
    n = 1000 * 1000 * 4  # one float32 (1000, 1000) tensor

    def two_alive():
        a = torch.ones(1000, 1000)
        b = a * 2  # a and b alive together: 2n
        return a + b  # a, b and the result: 3n at the peak

    def one_at_a_time():
        for _ in range(3):
            a = torch.ones(1000, 1000)
            del a  # freed before the next one is made: the peak stays n

    assert measure.peak_memory(two_alive) == 3 * n
    assert measure.peak_memory(one_at_a_time) == n


def test_peak_memory_counts_a_view_once():
    def view():
        a = torch.zeros(500, 500)
        return a.t().reshape(-1)[:10]  # t() is a view; reshape of a transpose copies

    assert measure.peak_memory(view) == 2 * 500 * 500 * 4


def test_cpu_clock_counts_work_not_sleep():
    assert measure.time_call(lambda: time.sleep(0.05), repeats=1, warmup=0, clock="wall") >= 0.05
    assert measure.time_call(lambda: time.sleep(0.05), repeats=1, warmup=0, clock="cpu") < 0.04


def test_peak_memory_sees_factory_functions_and_tensor_methods():
    def made():
        a = torch.empty(250, 1000)  # 1 MB from a factory function
        b = a.new_zeros(250, 1000)  # and 1 MB from a tensor method
        return a.add_(1), b  # in place: no new storage

    assert measure.peak_memory(made) == 2 * 250 * 1000 * 4


def test_time_call_checks_its_options():
    assert measure.time_call(lambda: sum(range(100)), repeats=2) > 0
    with pytest.raises(ValueError, match="repeats"):
        measure.time_call(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="clock"):
        measure.time_call(lambda: None, clock="sundial")


def test_timing_clock_uses_one_thread_on_the_cpu_and_restores_the_count():
    threads = torch.get_num_threads()
    with measure.timing_clock("cpu") as clock:
        assert clock == "cpu" and torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads
    with measure.timing_clock("meta") as clock:
        assert clock == "wall"


def test_format_bytes():
    assert measure.format_bytes(10) == "10 B"
    assert measure.format_bytes(1536) == "1.50 KiB"
    assert measure.format_bytes(10 * 1024**3) == "10.00 GiB"
    assert measure.format_bytes(3 * 1024**4) == "3.00 TiB"
    assert measure.format_bytes(5 * 1024**5) == "5120.00 TiB"


def test_format_table_rows_and_dicts():
    table = measure.format_table([[1, "a"], [22, "bb"]], ["n", "s"])
    assert table.splitlines() == [" n   s", "--  --", " 1   a", "22  bb"]
    rows = [{"lesson": "00", "title": "Start here"}, {"lesson": "01", "title": "Words"}]
    assert measure.format_table(rows, align="left").splitlines() == [
        "lesson  title",
        "------  ----------",
        "00      Start here",
        "01      Words",
    ]
    assert measure.format_table([]) == ""
    assert measure.format_table([], ["a", "bb"]).splitlines() == ["a  bb", "-  --"]
    with pytest.raises(ValueError, match="align"):
        measure.format_table(rows, align="centre")
