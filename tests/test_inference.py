"""llmlab.inference: memory of LLaMA 2 at 16/8/4 bits with its KV cache, and the bandwidth bound."""

import pytest

from llmlab import inference
from llmlab.memory import LLAMA2


def test_weights_at_each_precision():
    rows = {(r.model, r.weights_format, r.attention): r for r in inference.inference_memory_table()}
    seven = rows[("LLaMA 2 7B", "4-bit (Q4_0)", "MHA")]
    assert seven.weights == pytest.approx(
        6_738_415_616 * 4.5 / 8
    )  # 3.79 GB: why a 7B model runs in ~4 GB
    assert 3.7e9 < seven.weights < 3.9e9
    assert rows[("LLaMA 2 7B", "16-bit (fp16)", "MHA")].weights == 2 * 6_738_415_616
    # 7B at 4,096 tokens: 2 x 32 layers x 32 heads x 128 x 2 bytes = 512 KiB per token, 2 GiB in all
    assert seven.kv_cache == 2 * 32 * 32 * 128 * 2 * 4096
    assert seven.published and not rows[("LLaMA 2 7B", "4-bit (Q4_0)", "GQA-8")].published
    seventy = rows[("LLaMA 2 70B", "16-bit (fp16)", "GQA-8")]
    assert (
        seventy.published
        and rows[("LLaMA 2 70B", "16-bit (fp16)", "MHA")].kv_cache == 8 * seventy.kv_cache
    )
    assert seven.fits(8) and not seven.fits(4)
    assert not rows[("LLaMA 2 70B", "4-bit (Q4_0)", "GQA-8")].fits(32)
    assert len(rows) == len(LLAMA2) * 3 * 2


def test_bandwidth_bound_and_measurement():
    assert inference.tokens_per_second_bound(4e9, 100e9) == 25
    with pytest.raises(ValueError):
        inference.tokens_per_second_bound(0, 1e9)
    with pytest.raises(ValueError):
        inference.weight_bytes(10, 0)
    bw = inference.measure_bandwidth(mbytes=16, repeats=2)
    assert 1e8 < bw < 1e13  # between 0.1 GB/s and 10 TB/s: a number, not a crash
