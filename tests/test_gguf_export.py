"""GGUF export: the file round-trips through gguf.GGUFReader (tensors and metadata), and runs the same in PyTorch."""

import numpy as np
import pytest
import torch

from llmlab import gguf_export as ge
from llmlab import llama, positional, quantization
from llmlab.gpt import GPT, GPTConfig
from llmlab.tokenizers import CharTokenizer

gguf = pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def small():
    tok = CharTokenizer.from_text("the quick brown fox jumps over a lazy dog.\n")
    torch.manual_seed(0)
    cfg = llama.LlamaConfig(tok.vocab_size, 32, n_layer=2, n_head=4, n_embd=64, n_kv_head=2)
    model = llama.Llama(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.3 * torch.randn_like(p))
    return model, tok


def test_rope_row_permutation_matches_convert_hf_to_gguf():
    w = torch.randn(4 * 8, 5)  # 4 heads of 8
    # convert_hf_to_gguf.py, LlamaModel.permute
    ref = w.reshape(4, 2, 8 // 2, 5).swapaxes(1, 2).reshape(w.shape)
    assert torch.equal(ge._interleave_rows(w, 4), ref)
    assert torch.equal(positional.permute_for_rotate_half(ge._interleave_rows(w, 4), 4), w)
    assert torch.equal(ge._halve_rows(ge._interleave_rows(w, 4), 4), w)


@pytest.mark.parametrize("weight_type", ge.TYPES)
def test_round_trip_through_gguf_reader(tmp_path, small, weight_type):
    model, tok = small
    path = ge.export_gguf(model, tok, tmp_path / f"m-{weight_type}.gguf", weight_type)
    reader = ge.read_gguf(path)
    meta = ge.metadata(reader)
    cfg = model.config
    assert meta["general.architecture"] == "llama"
    assert meta["llama.block_count"] == cfg.n_layer and meta["llama.embedding_length"] == cfg.n_embd
    assert meta["llama.attention.head_count"] == 4 and meta["llama.attention.head_count_kv"] == 2
    assert meta["llama.feed_forward_length"] == cfg.d_ff and meta["llama.context_length"] == 32
    assert meta["llama.rope.dimension_count"] == cfg.head_dim
    assert meta["tokenizer.ggml.model"] == "llama"
    assert meta["tokenizer.ggml.tokens"] == [ge.SPACE if c == " " else c for c in tok.chars]
    assert meta["general.file_type"] == int(
        getattr(
            gguf.LlamaFileType,
            {"F32": "ALL_F32", "F16": "MOSTLY_F16", "Q8_0": "MOSTLY_Q8_0", "Q4_0": "MOSTLY_Q4_0"}[
                weight_type
            ],
        )
    )
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.attn_norm.weight"] == "F32"  # norms stay float32
    assert types["blk.1.ffn_gate.weight"] == weight_type
    assert len(reader.tensors) == 3 + 9 * cfg.n_layer

    got = ge.tensors(reader)
    w = ge._gguf_weights(model)
    names = ge._tensor_names(gguf, cfg.n_layer)
    for ours, theirs in names.items():
        expected = w[ours]
        if expected.dim() == 2 and weight_type in ("Q8_0", "Q4_0"):
            expected = quantization.dequantize(
                quantization.quantize(expected, 8 if weight_type == "Q8_0" else 4)
            )
        elif expected.dim() == 2 and weight_type == "F16":
            expected = expected.half().float()
        assert np.array_equal(got[theirs], expected.numpy()), theirs


def test_loaded_back_runs_like_the_model(tmp_path, small):
    model, tok = small
    idx = torch.randint(0, tok.vocab_size, (1, 20), generator=torch.Generator().manual_seed(0))
    ref = model(idx)[0]
    f32 = ge.load_gguf(ge.export_gguf(model, tok, tmp_path / "f32.gguf", "F32"))
    assert torch.allclose(f32(idx)[0], ref, atol=1e-5)  # the q/k permutation is undone exactly
    q8 = ge.load_gguf(ge.export_gguf(model, tok, tmp_path / "q8.gguf", "Q8_0"))
    err8 = (q8(idx)[0] - ref).abs().max()
    q4 = ge.load_gguf(ge.export_gguf(model, tok, tmp_path / "q4.gguf", "Q4_0"))
    err4 = (q4(idx)[0] - ref).abs().max()
    assert 0 < err8 < err4
    sizes = {t: (tmp_path / f"{t}.gguf").stat().st_size for t in ("f32", "q8", "q4")}
    assert sizes["q4"] < sizes["q8"] < sizes["f32"]


def test_bad_input_one_line(tmp_path, small):
    model, tok = small
    with pytest.raises(ValueError, match="'llama' architecture"):
        ge.export_gguf(GPT(GPTConfig(tok.vocab_size, 8, 1, 2, 16)), tok, tmp_path / "g.gguf")
    with pytest.raises(ValueError, match="weight_type must be one of"):
        ge.export_gguf(model, tok, tmp_path / "x.gguf", "Q5_K")
    path = ge.export_gguf(model, tok, tmp_path / "m.gguf", "Q8_0")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ge.export_gguf(model, tok, path, "Q8_0")
    raw = path.read_bytes()
    for cut in (len(raw) // 2, 200, 24):
        short = tmp_path / f"cut{cut}.gguf"
        short.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="truncated or damaged"):
            ge.read_gguf(short)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"PK\x03\x04" + raw[4:100])
    with pytest.raises(ValueError, match="not a GGUF file"):
        ge.read_gguf(junk)


@pytest.mark.parametrize("weight_type,tolerance", [("F32", 1e-4), ("Q8_0", 2e-3), ("Q4_0", 2e-3)])
def test_llama_cpp_runs_the_file_like_pytorch(tmp_path, small, weight_type, tolerance):
    """Only where llama-cpp-python is installed (`make llama-cpp`): llama.cpp itself reads the file,
    tokenizes like our CharTokenizer, and gives the next-token distribution PyTorch gives for the same file
    (llama.cpp rounds activations to 8 bits in its quantized dot products, hence the looser tolerance)."""
    llama_cpp = pytest.importorskip("llama_cpp")
    model, tok = small
    path = ge.export_gguf(model, tok, tmp_path / f"m-{weight_type}.gguf", weight_type)
    cpp = llama_cpp.Llama(model_path=str(path), n_ctx=32, logits_all=True, verbose=False)
    text = "the lazy fox"
    ids = tok.encode(text)
    assert cpp.tokenize(text.encode(), add_bos=False, special=False) == ids
    cpp.eval(ids)
    p_cpp = torch.softmax(torch.tensor(np.array(cpp.scores[len(ids) - 1]), dtype=torch.float32), -1)
    with torch.no_grad():
        p_torch = torch.softmax(ge.load_gguf(path)(torch.tensor([ids]))[0][0, -1], -1)
    assert 0.5 * (p_cpp - p_torch).abs().sum().item() < tolerance
