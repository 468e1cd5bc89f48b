"""GGUF: the single file llama.cpp runs, written and read with llama.cpp's own ``gguf`` library (lesson 07).

A GGUF file (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md) holds, after a magic
``GGUF`` and a version: key/value metadata (the architecture and its sizes, the tokenizer's
vocabulary), then a table of tensors (name, shape, type, offset), then the tensor data, aligned
to 32 bytes. Everything llama.cpp needs to run the model is in the one file.

``export_gguf(model, tokenizer, path, "Q4_0")`` writes an ``llmlab.llama.Llama`` as llama.cpp's
``llama`` architecture:

* the metadata keys of ``gguf.Keys`` for ``llama`` (``llama.block_count``, ``llama.embedding_length``,
  ``llama.attention.head_count_kv``, ``llama.rope.freq_base`` ...);
* tensor names from ``gguf.TENSOR_NAMES`` (``token_embd``, ``blk.N.attn_q``, ``blk.N.ffn_gate``,
  ``output_norm``, ``output``);
* the query and key rows permuted back to adjacent RoPE pairs: llama.cpp's ``llama`` uses RoPE on
  pairs (2i, 2i+1), as Meta's code, and llama.cpp's ``convert_hf_to_gguf.py`` permutes Hugging
  Face's split-halves rows the same way (``LlamaModel.permute``);
* 2-D weights in F32, F16, Q8_0 or Q4_0 (``llmlab.quantization``: llama.cpp's bytes), 1-D norms in F32;
* the course's character vocabulary as a SentencePiece-style (``llama``) token list with the space
  written as "▁" (U+2581), no space prefix and no BOS token.

``read_gguf(path)`` reads a file back with ``gguf.GGUFReader`` and ``load_gguf(path)`` rebuilds a
``Llama`` from it, so the file can be checked in PyTorch where llama.cpp is not installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from llmlab import quantization
from llmlab.llama import Llama, LlamaConfig

#: The weight types this exporter writes, and what each costs per weight.
TYPES = ("F32", "F16", "Q8_0", "Q4_0")
SPACE = "\u2581"  # SentencePiece's "▁", its spelling of a space


def _gguf():
    try:
        import gguf
    except ImportError:
        raise ImportError("GGUF needs llama.cpp's Python library: pip install gguf") from None
    return gguf


def _interleave_rows(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rows of each head from split-halves order (0, h, 1, h+1 ... as pairs) to adjacent pairs.

    The inverse of ``llmlab.positional.permute_for_rotate_half``; the same reshuffle as
    ``convert_hf_to_gguf.py``'s ``LlamaModel.permute``:
    ``w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(w.shape)``.
    """
    rows, cols = weight.shape
    return (
        weight.reshape(n_heads, 2, rows // n_heads // 2, cols).transpose(1, 2).reshape(rows, cols)
    )


def _halve_rows(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Inverse of ``_interleave_rows``: adjacent pairs back to split halves, per head."""
    rows, cols = weight.shape
    return (
        weight.reshape(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)
    )


def _tensor_names(gguf, n_layer: int) -> dict[str, str]:
    """Our parameter names -> GGUF tensor names (from ``gguf.TENSOR_NAMES``)."""
    T, names = gguf.MODEL_TENSOR, gguf.TENSOR_NAMES
    out = {
        "tok_embeddings.weight": names[T.TOKEN_EMBD] + ".weight",
        "norm.weight": names[T.OUTPUT_NORM] + ".weight",
        "lm_head.weight": names[T.OUTPUT] + ".weight",
    }
    per_block = {
        "attn_norm": T.ATTN_NORM,
        "attn.q_proj": T.ATTN_Q,
        "attn.k_proj": T.ATTN_K,
        "attn.v_proj": T.ATTN_V,
        "attn.out_proj": T.ATTN_OUT,
        "mlp_norm": T.FFN_NORM,
        "mlp.gate_proj": T.FFN_GATE,
        "mlp.up_proj": T.FFN_UP,
        "mlp.down_proj": T.FFN_DOWN,
    }
    for i in range(n_layer):
        for ours, t in per_block.items():
            out[f"layers.{i}.{ours}.weight"] = names[t].format(bid=i) + ".weight"
    return out


def _gguf_weights(model: Llama) -> dict[str, torch.Tensor]:
    """Our state dict (float32) with q/k rows in llama.cpp's adjacent-pair order; a tied head written twice."""
    cfg = model.config
    sd = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    sd.setdefault("tok_embeddings.weight", sd["lm_head.weight"])
    for i in range(cfg.n_layer):
        sd[f"layers.{i}.attn.q_proj.weight"] = _interleave_rows(
            sd[f"layers.{i}.attn.q_proj.weight"], cfg.n_head
        )
        sd[f"layers.{i}.attn.k_proj.weight"] = _interleave_rows(
            sd[f"layers.{i}.attn.k_proj.weight"], cfg.n_kv_head or cfg.n_head
        )
    return sd


def export_gguf(
    model: nn.Module,
    tokenizer,
    path: str | Path,
    weight_type: str = "F32",
    name: str = "llmlab mini-llama",
    overwrite: bool = False,
) -> Path:
    """Write ``model`` (an ``llmlab.llama.Llama``) and its character tokenizer to a GGUF file.

    weight_type: "F32", "F16", "Q8_0" or "Q4_0" for the 2-D weights (norms stay F32). The file is
    written next to ``path`` and renamed into place; an existing file is kept unless ``overwrite``.
    """
    gguf = _gguf()
    if not isinstance(model, Llama):
        raise ValueError(
            f"export_gguf writes llama.cpp's 'llama' architecture (RMSNorm, SwiGLU, RoPE); a "
            f"{type(model).__name__} has another architecture: train an llmlab.llama.Llama to export it."
        )
    if weight_type not in TYPES:
        raise ValueError(f"weight_type must be one of {', '.join(TYPES)}, got {weight_type!r}.")
    chars = getattr(tokenizer, "chars", None)
    if not chars or len(chars) != model.config.vocab_size:
        raise ValueError(
            "export_gguf writes a character vocabulary: pass the model's CharTokenizer "
            f"({model.config.vocab_size} characters)."
        )
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; choose another name or pass overwrite=True.")
    cfg = model.config
    Q = gguf.GGMLQuantizationType
    file_type = {
        "F32": gguf.LlamaFileType.ALL_F32,
        "F16": gguf.LlamaFileType.MOSTLY_F16,
        "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
        "Q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
    }[weight_type]

    tmp = path.with_name(f".{path.name}.writing-{os.getpid()}")
    writer = gguf.GGUFWriter(tmp, arch="llama")
    writer.add_name(name)
    writer.add_context_length(cfg.block_size)
    writer.add_embedding_length(cfg.n_embd)
    writer.add_block_count(cfg.n_layer)
    writer.add_feed_forward_length(cfg.d_ff)
    writer.add_head_count(cfg.n_head)
    writer.add_head_count_kv(cfg.n_kv_head)
    writer.add_rope_dimension_count(cfg.head_dim)
    writer.add_rope_freq_base(cfg.rope_base)
    writer.add_layer_norm_rms_eps(cfg.norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_file_type(file_type)
    # The vocabulary: one token per character, SentencePiece-style ("llama"), space written as "▁".
    writer.add_tokenizer_model("llama")
    writer.add_token_list([SPACE if c == " " else c for c in chars])
    writer.add_token_scores([0.0] * len(chars))
    writer.add_token_types([gguf.TokenType.NORMAL] * len(chars))
    writer.add_add_space_prefix(False)
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)

    names = _tensor_names(gguf, cfg.n_layer)
    for ours, w in _gguf_weights(model).items():
        if w.dim() == 1 or weight_type == "F32":
            writer.add_tensor(names[ours], w.numpy())
        elif weight_type == "F16":
            writer.add_tensor(names[ours], w.half().numpy())
        else:
            bits = 8 if weight_type == "Q8_0" else 4
            raw = quantization.to_ggml_bytes(
                quantization.quantize(w, bits, quantization.GGML_BLOCK)
            )
            data = np.frombuffer(raw, dtype=np.uint8).reshape(
                w.shape[0], -1
            )  # (rows, bytes per row)
            writer.add_tensor(names[ours], data, raw_dtype=getattr(Q, weight_type))
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_gguf(path: str | Path):
    """Open a GGUF file with ``gguf.GGUFReader``; a missing, truncated or foreign file gives one line."""
    gguf = _gguf()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No GGUF file at {path}.")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ValueError(f"{path.name} is not a GGUF file (it starts with {magic!r}, not b'GGUF').")
    try:
        reader = gguf.GGUFReader(path)
        for t in reader.tensors:  # touching every tensor's data finds a file cut short
            if t.data.nbytes != t.n_bytes:
                raise ValueError
    except (ValueError, IndexError, OSError, KeyError):
        raise ValueError(
            f"{path.name} is truncated or damaged: its header or tensor data ends early "
            f"({path.stat().st_size:,} bytes). Export it again."
        ) from None
    return reader


def metadata(reader) -> dict[str, Any]:
    """The key/value metadata of a ``GGUFReader`` as plain Python values (arrays as lists)."""
    return {
        key: field.contents() for key, field in reader.fields.items() if not key.startswith("GGUF.")
    }


def tensors(reader) -> dict[str, np.ndarray]:
    """Every tensor of a ``GGUFReader``, dequantized to float32 ``(rows, cols)`` (1-D stays 1-D)."""
    gguf = _gguf()
    out = {}
    for t in reader.tensors:
        shape = tuple(int(n) for n in reversed(t.shape))  # GGUF lists dimensions innermost first
        out[t.name] = (
            gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32)
        )
    return out


def load_gguf(path: str | Path) -> Llama:
    """Rebuild an ``llmlab.llama.Llama`` from a GGUF file written by ``export_gguf`` (weights dequantized)."""
    gguf = _gguf()
    reader = read_gguf(path)
    meta = metadata(reader)
    if meta.get("general.architecture") != "llama":
        raise ValueError(
            f"{Path(path).name} holds a {meta.get('general.architecture')!r} model, not 'llama'."
        )
    cfg = LlamaConfig(
        vocab_size=int(meta["llama.vocab_size"]),
        block_size=int(meta["llama.context_length"]),
        n_layer=int(meta["llama.block_count"]),
        n_head=int(meta["llama.attention.head_count"]),
        n_embd=int(meta["llama.embedding_length"]),
        n_kv_head=int(meta["llama.attention.head_count_kv"]),
        d_ff=int(meta["llama.feed_forward_length"]),
        rope_base=float(meta["llama.rope.freq_base"]),
        norm_eps=float(meta["llama.attention.layer_norm_rms_epsilon"]),
    )
    data = tensors(reader)
    state = {}
    for ours, theirs in _tensor_names(gguf, cfg.n_layer).items():
        w = torch.from_numpy(data[theirs].copy())
        if ".attn.q_proj." in ours:
            w = _halve_rows(w, cfg.n_head)
        elif ".attn.k_proj." in ours:
            w = _halve_rows(w, cfg.n_kv_head or cfg.n_head)
        state[ours] = w
    model = Llama(cfg)
    model.load_state_dict(state, strict=True)
    return model.eval()
