"""llmlab.quantization: error bounds, and llama.cpp's Q8_0 / Q4_0 bytes checked against the gguf package."""

import numpy as np
import pytest
import torch
from torch import nn

from llmlab import quantization as qz
from llmlab.gpt import GPT, GPTConfig

gguf = pytest.importorskip("gguf")


def weights(rows=24, cols=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = 0.02 * torch.randn(rows, cols, generator=g)
    w[3, 5] = 0.3  # an outlier: per-row scales suffer from it, blocks of 32 less so
    w[7, 40] = -0.25
    return w


@pytest.mark.parametrize("bits,block", [(8, 32), (4, 32), (8, None), (4, None), (8, 16)])
def test_round_trip_within_bound(bits, block):
    w = weights()
    qt = qz.quantize(w, bits, block)
    err = (qz.dequantize(qt) - w).abs().reshape(w.shape[0], -1, qt.block_size)
    bound = qz.error_bound(qt)[..., None]
    assert (err <= bound).all()
    assert err.max() > 0.2 * bound.max()  # the bound is not vacuous
    low, high = (-127, 127) if bits == 8 else (-8, 7)
    assert qt.codes.min() >= low and qt.codes.max() <= high


def test_blocks_beat_rows_with_an_outlier():
    w = weights()
    row_err = (qz.dequantize(qz.quantize(w, 4, None)) - w)[3].abs().mean()
    block_err = (qz.dequantize(qz.quantize(w, 4, 32)) - w)[3].abs().mean()
    assert block_err < 0.5 * row_err


@pytest.mark.parametrize("bits,qtype", [(8, "Q8_0"), (4, "Q4_0")])
def test_bytes_equal_llama_cpp_reference(bits, qtype):
    """Byte for byte what gguf-py's quants.py (bit-exact with ggml-quants.c) writes."""
    w = weights(rows=16, cols=128, seed=1)
    w[0, :32] = 0.0  # an all-zero block: d = 0, id = 0
    w[1, :32] = torch.linspace(-1, 1, 32)  # exact halves, where roundf and round-to-even differ
    ours = qz.to_ggml_bytes(qz.quantize(w, bits, 32))
    t = getattr(gguf.GGMLQuantizationType, qtype)
    reference = gguf.quants.quantize(w.numpy().astype(np.float32), t).tobytes()
    assert len(ours) == w.numel() // 32 * (34 if bits == 8 else 18)
    assert ours == reference
    back = qz.from_ggml_bytes(ours, tuple(w.shape), bits)
    expected = gguf.quants.dequantize(np.frombuffer(reference, np.uint8).reshape(16, -1), t)
    assert np.array_equal(qz.dequantize(back).numpy(), expected)


def test_q4_nibble_order():
    """Weight j sits in the low nibble of byte j, weight j + 16 in the high nibble (block_q4_0)."""
    w = torch.zeros(1, 32)
    w[0, 0], w[0, 16], w[0, 31] = -1.0, 0.5, 0.25  # d = -1 / -8 = 0.125
    raw = qz.to_ggml_bytes(qz.quantize(w, 4, 32))
    assert np.frombuffer(raw[:2], np.float16)[0] == np.float16(0.125)
    qs = raw[2:]
    assert qs[0] & 0x0F == 0 and qs[0] >> 4 == 8 + 4  # -1 -> code -8 -> nibble 0; 0.5 -> 4 -> 12
    assert qs[15] >> 4 == 8 + 2  # weight 31: 0.25 -> 2 -> 10
    assert qs[1] == 0x88  # zeros -> nibble 8


def test_quantize_model_size_and_outputs():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=64)).eval()
    idx = torch.randint(0, 40, (2, 16))
    ref = model(idx)[0]
    fp32 = qz.model_bytes(model)
    assert fp32 == 4 * sum(p.numel() for p in model.parameters())
    sizes, errs = {}, {}
    for bits in (8, 4):
        q = qz.quantize_model(model, bits)
        assert sum(isinstance(m, qz.QuantizedLinear) for m in q.modules()) == 2 * 6 + 1
        sizes[bits] = qz.model_bytes(q)
        errs[bits] = (q(idx)[0] - ref).abs().max().item()
    assert type(model.lm_head) is nn.Linear  # the original is untouched
    assert sizes[4] < sizes[8] < fp32
    assert 0 < errs[8] < errs[4]
    dyn = qz.pytorch_dynamic_int8(model)
    assert (dyn(idx)[0] - ref).abs().max() < 0.1
    assert qz.dynamic_int8_bytes(dyn) < fp32
    skipped = qz.quantize_model(model, 8, skip=("lm_head",))
    assert type(skipped.lm_head) is nn.Linear


def test_weight_errors_per_layer():
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 64))
    errs = qz.weight_errors(model, 4)
    assert set(errs) == {"0", "2"} and errs["0"].numel() == 64 * 32


def test_bad_input_one_line():
    w = torch.randn(4, 96)
    with pytest.raises(ValueError, match=r"bits must be one of \(4, 8\)"):
        qz.quantize(w, bits=3)
    with pytest.raises(ValueError, match="does not divide the row length 96"):
        qz.quantize(w, 8, block_size=40)
    with pytest.raises(ValueError, match="2-D weight"):
        qz.quantize(torch.randn(96), 8)
    with pytest.raises(ValueError, match="bits must be"):
        qz.quantize_model(nn.Linear(4, 4), bits=2)
    with pytest.raises(ValueError, match="blocks of 32"):
        qz.to_ggml_bytes(qz.quantize(w, 8, None))
    with pytest.raises(ValueError, match="not 12 blocks"):
        qz.from_ggml_bytes(b"\0" * 10, (4, 96), 8)
