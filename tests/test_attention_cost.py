"""Tests for llmlab.attention_cost: the KV-cache arithmetic against hand computations,
the memory tracker against tensors of known size, and the measuring functions' tables."""

import math

import pytest
import torch

from llmlab import attention_cost as ac

# --- KV cache arithmetic, computed by hand -----------------------------------


def test_kv_cache_llama2_7b_by_hand():
    # 2 (K, V) x 32 layers x 32 KV heads x 128 dims (4096 / 32) x 2 bytes (fp16)
    assert ac.LLAMA2_7B.head_dim == 128
    per_token = ac.kv_cache_bytes_per_token(32, 32, 128, 2)
    assert per_token == 2 * 32 * 32 * 128 * 2 == 524_288  # 512 KiB
    assert ac.format_bytes(per_token) == "512.00 KiB"


def test_kv_cache_llama2_70b_with_and_without_gqa_by_hand():
    assert ac.LLAMA2_70B.head_dim == 8192 // 64 == 128
    with_gqa = ac.kv_cache_bytes_per_token(80, 8, 128, 2)
    without = ac.kv_cache_bytes_per_token(80, 64, 128, 2)
    assert with_gqa == 327_680  # 320 KiB
    assert without == 2_621_440  # 2.5 MiB
    assert without / with_gqa == 8  # 64 query heads share 8 KV heads


def test_kv_cache_table_rows():
    rows = ac.kv_cache_table(context_len=4096)
    by_key = {(r.model, r.n_kv_heads): r for r in rows}
    assert {(r.model, r.attention) for r in rows} == {
        ("LLaMA 2 7B", "MHA"),
        ("LLaMA 2 7B", "GQA-8"),
        ("LLaMA 2 7B", "MQA"),
        ("LLaMA 2 70B", "MHA"),
        ("LLaMA 2 70B", "GQA-8"),
        ("LLaMA 2 70B", "MQA"),
    }
    published = {r.model: r.attention for r in rows if r.published}
    assert published == {"LLaMA 2 7B": "MHA", "LLaMA 2 70B": "GQA-8"}
    # a full 4096-token context: 7B MHA 2 GiB, 70B GQA 1.25 GiB, 70B without GQA 10 GiB
    assert by_key[("LLaMA 2 7B", 32)].bytes_per_sequence == 2 * 1024**3
    assert by_key[("LLaMA 2 70B", 8)].bytes_per_sequence == 1.25 * 1024**3
    assert by_key[("LLaMA 2 70B", 64)].bytes_per_sequence == 10 * 1024**3
    assert by_key[("LLaMA 2 70B", 1)].bytes_per_token == 2 * 80 * 1 * 128 * 2


def test_kv_cache_bad_input():
    with pytest.raises(ValueError, match="n_kv_heads must be a positive whole number"):
        ac.kv_cache_bytes_per_token(32, 0, 128)
    with pytest.raises(ValueError, match="cannot be split into 3 KV groups"):
        ac.kv_cache_table(kv_heads=[3])


# --- measuring --------------------------------------------------------------


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

    assert ac.peak_memory(two_alive) == 3 * n
    assert ac.peak_memory(one_at_a_time) == n


def test_peak_memory_counts_a_view_once():
    def view():
        a = torch.zeros(500, 500)
        return a.t().reshape(-1)[:10]  # t() is a view; reshape of a transpose copies

    assert ac.peak_memory(view) == 2 * 500 * 500 * 4


def test_time_call_and_power_law():
    assert ac.time_call(lambda: sum(range(100)), repeats=2) > 0
    xs = [16, 32, 64, 128]
    assert ac.power_law_exponent(xs, [3 * x**2 for x in xs]) == pytest.approx(2.0)
    assert ac.power_law_exponent(xs, [5 * x for x in xs]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least two"):
        ac.power_law_exponent([1], [1])
    with pytest.raises(ValueError, match="repeats"):
        ac.time_call(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="clock"):
        ac.time_call(lambda: None, clock="sundial")


def test_cpu_clock_counts_work_not_sleep():
    import time

    assert ac.time_call(lambda: time.sleep(0.05), repeats=1, warmup=0, clock="wall") >= 0.05
    assert ac.time_call(lambda: time.sleep(0.05), repeats=1, warmup=0, clock="cpu") < 0.04


def test_measure_attention_cost_table():
    pytest.importorskip("llmlab.attention")
    threads = torch.get_num_threads()
    rows = ac.measure_attention_cost([16, 64], d_model=32, n_heads=4, batch=2, repeats=1)
    assert torch.get_num_threads() == threads  # timed with one thread, then restored
    assert [r.seq_len for r in rows] == [16, 64]
    assert rows[1].weights_bytes == 2 * 4 * 64 * 64 * 4
    for r in rows:
        assert r.seconds > 0
        # the (B, nh, T, T) weights are created by the forward pass, so the peak includes them
        assert r.peak_bytes >= r.weights_bytes
    with pytest.raises(ValueError, match="positive lengths"):
        ac.measure_attention_cost([0])


def test_attention_vs_recurrent_fields():
    pytest.importorskip("llmlab.attention")
    r = ac.attention_vs_recurrent(seq_len=8, d_model=16, n_heads=2, repeats=1)
    assert (r.seq_len, r.d_model, r.recurrent_steps) == (8, 16, 8)
    assert r.attention_seconds > 0 and r.recurrent_seconds > 0


def test_format_helpers():
    assert ac.format_bytes(1536) == "1.50 KiB"
    assert ac.format_bytes(10) == "10 B"
    assert ac.format_bytes(10 * 1024**3) == "10.00 GiB"
    table = ac.format_table([[1, "a"], [22, "bb"]], ["n", "s"])
    assert table.splitlines() == [" n   s", "--  --", " 1   a", "22  bb"]
    assert math.isclose(ac.LLAMA2_70B.n_head / ac.LLAMA2_70B.n_kv_head, 8)
