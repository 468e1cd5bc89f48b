"""Quantization: storing weights in 8 or 4 bits, written out (lesson 07).

A weight matrix stored in float32 costs 4 bytes per number, in float16 2. Quantization stores each
number as a small integer ``q`` and keeps one float ``d`` (the *scale*) per group of numbers; the
weight is read back as ``q * d``. Two groupings:

* **absmax per row** (int8): ``d = max|row| / 127``, ``q = round(w / d)`` in ``-127 .. 127``; one
  scale per output row of a linear layer ("vector-wise" absmax quantization, Dettmers et al. 2022,
  "LLM.int8()", https://arxiv.org/abs/2208.07339, Section 3.1).
* **blocks of 32** (llama.cpp's ``Q8_0`` and ``Q4_0``): one scale per 32 consecutive numbers of a
  row, so one large weight only coarsens its own block. The layouts are those of ggml's
  ``ggml/src/ggml-common.h`` (https://github.com/ggml-org/llama.cpp):

      #define QK8_0 32
      typedef struct { ggml_half d; int8_t qs[QK8_0]; } block_q8_0;        // 2 + 32 = 34 bytes
      #define QK4_0 32
      typedef struct { ggml_half d; uint8_t qs[QK4_0 / 2]; } block_q4_0;   // 2 + 16 = 18 bytes

  and the rounding that of ``quantize_row_q8_0_ref`` / ``quantize_row_q4_0_ref`` in
  ``ggml/src/ggml-quants.c``:

      Q8_0: d = amax / 127;  id = d ? 1/d : 0;  qs[j] = roundf(x[j] * id)
      Q4_0: max = the value of largest magnitude (with its sign);  d = max / -8;  id = d ? 1/d : 0
            xi0 = MIN(15, (int8_t)(x[j] * id + 8.5f))            for j <  16 (low nibble of qs[j])
            xi1 = MIN(15, (int8_t)(x[j + 16] * id + 8.5f))       for j <  16 (high nibble of qs[j])
            qs[j] = xi0 | (xi1 << 4);  dequantized: (nibble - 8) * d

  So Q8_0 costs 34 / 32 = 8.5 bits per weight and Q4_0 18 / 32 = 4.5. The scale is stored as
  float16 (``ggml_half``). ``to_ggml_bytes`` packs a quantized tensor into exactly those bytes;
  the tests check them, byte for byte, against the ``gguf`` package's own numpy implementation
  (``gguf/quants.py``, "bit-exact same results as reference implementation in ggml-quants.c").

``quantize_model`` replaces every ``nn.Linear`` of a model by a ``QuantizedLinear`` holding the
codes and scales, which dequantizes its weight at each call: the memory shrinks, the arithmetic is
still float32 (llama.cpp instead multiplies the integers directly in its kernels).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Bit widths this module implements, and llama.cpp's block size for both.
BITS = (4, 8)
GGML_BLOCK = 32


@dataclass
class QuantizedTensor:
    """A 2-D weight ``(rows, cols)`` as integer codes and scales.

    codes: ``(rows, cols)`` int8, the signed integer each weight became (for 4 bits in ``-8 .. 7``);
    scales: ``(rows, cols // block_size)``, one per block (float16 for llama.cpp's blocks, float32
    for absmax per row); ``w ~ codes * scale of its block``.
    """

    codes: torch.Tensor
    scales: torch.Tensor
    bits: int
    block_size: int

    @property
    def shape(self) -> torch.Size:
        return self.codes.shape

    def nbytes(self) -> int:
        """Storage as it would be packed: ``bits`` per weight plus the scales."""
        return (
            self.codes.numel() * self.bits // 8 + self.scales.numel() * self.scales.element_size()
        )

    def bits_per_weight(self) -> float:
        return 8 * self.nbytes() / self.codes.numel()


def _check(w: torch.Tensor, bits: int, block_size: int | None) -> int:
    if bits not in BITS:
        raise ValueError(f"bits must be one of {BITS} (8: int8 / Q8_0, 4: Q4_0), got {bits!r}.")
    if not isinstance(w, torch.Tensor) or w.dim() != 2:
        shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise ValueError(f"quantize expects a 2-D weight (rows, cols), got {shape}.")
    cols = w.shape[1]
    block = cols if block_size is None else int(block_size)
    if block < 1 or cols % block:
        raise ValueError(
            f"block_size {block_size} does not divide the row length {cols}: every block must be "
            f"full; use a divisor of {cols} (llama.cpp uses {GGML_BLOCK}) or block_size=None (one scale per row)."
        )
    return block


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    """C's ``roundf``: halves round away from zero (``torch.round`` rounds them to even)."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def quantize(
    w: torch.Tensor, bits: int = 8, block_size: int | None = GGML_BLOCK
) -> QuantizedTensor:
    """Quantize a 2-D weight with one scale per block of ``block_size`` numbers of a row.

    ``bits=8, block_size=32``: llama.cpp's Q8_0. ``bits=4, block_size=32``: llama.cpp's Q4_0.
    ``block_size=None``: one block per row (``bits=8`` is absmax int8 per row, scales in float32).
    The arithmetic is float32, as in ``ggml-quants.c``, so the codes are llama.cpp's.
    """
    block = _check(w, bits, block_size)
    rows, cols = w.shape
    x = w.detach().float().reshape(rows, cols // block, block)  # (rows, n_blocks, block)
    if bits == 8:
        d = x.abs().amax(-1, keepdim=True) / 127  # (rows, n_blocks, 1)
        inv = torch.where(d == 0, torch.zeros_like(d), 1 / d)
        codes = _round_half_away(x * inv)  # -127 .. 127
    else:
        signed_max = x.gather(
            -1, x.abs().argmax(-1, keepdim=True)
        )  # the largest magnitude, with its sign
        d = signed_max / -8
        inv = torch.where(d == 0, torch.zeros_like(d), 1 / d)
        codes = torch.trunc(x * inv + 8.5).clamp(max=15) - 8  # -8 .. 7 (llama.cpp stores + 8)
    scale_dtype = torch.float16 if block_size is not None else torch.float32
    return QuantizedTensor(
        codes.to(torch.int8).reshape(rows, cols), d.squeeze(-1).to(scale_dtype), bits, block
    )


def dequantize(qt: QuantizedTensor) -> torch.Tensor:
    """The float32 weight ``(rows, cols)`` a quantized tensor stands for: ``codes * scale``."""
    rows, cols = qt.shape
    codes = qt.codes.float().reshape(rows, cols // qt.block_size, qt.block_size)
    return (codes * qt.scales.float()[..., None]).reshape(rows, cols)


def error_bound(qt: QuantizedTensor) -> torch.Tensor:
    """The largest error ``|w - dequantize(qt)|`` rounding allows, per block ``(rows, n_blocks)``.

    Half a step for 8 bits and for 4 bits (a whole step at the far end of Q4_0's range, where +8
    is clipped to +7), plus what storing the scale in float16 moves the largest code.
    """
    rel = (
        2.0**-11 if qt.scales.dtype == torch.float16 else 2.0**-24
    )  # relative rounding of the stored scale
    d = qt.scales.float().abs() / (
        1 - rel
    )  # the float32 scale the codes were computed with, at most
    top, step = (127, 0.5) if qt.bits == 8 else (8, 1.0)
    return (step + top * rel) * d


# ----------------------------------------------------------------------------------------------
# llama.cpp's bytes


def to_ggml_bytes(qt: QuantizedTensor) -> bytes:
    """The tensor as llama.cpp stores it: ``block_q8_0`` or ``block_q4_0`` structs, row after row."""
    if qt.block_size != GGML_BLOCK or qt.scales.dtype != torch.float16:
        raise ValueError(
            f"llama.cpp's Q8_0 / Q4_0 need blocks of {GGML_BLOCK} with float16 scales; "
            f"this tensor has blocks of {qt.block_size}."
        )
    rows, cols = qt.shape
    n_blocks = rows * cols // GGML_BLOCK
    d = qt.scales.reshape(n_blocks, 1).view(
        torch.uint8
    )  # (n_blocks, 2): the float16, little-endian
    codes = qt.codes.reshape(n_blocks, GGML_BLOCK)
    if qt.bits == 8:
        qs = codes.view(torch.uint8)  # (n_blocks, 32) int8 as bytes
    else:
        nib = (codes + 8).to(torch.uint8)  # 0 .. 15
        qs = nib[:, :16] | (
            nib[:, 16:] << 4
        )  # weight j in the low nibble of byte j, j + 16 in the high one
    return torch.cat([d, qs], dim=1).contiguous().numpy().tobytes()


def from_ggml_bytes(raw: bytes, shape: tuple[int, int], bits: int) -> QuantizedTensor:
    """Inverse of ``to_ggml_bytes``: Q8_0 / Q4_0 blocks back to codes and float16 scales."""
    if bits not in BITS:
        raise ValueError(f"bits must be one of {BITS} (8: Q8_0, 4: Q4_0), got {bits!r}.")
    rows, cols = shape
    per_block = 2 + (GGML_BLOCK if bits == 8 else GGML_BLOCK // 2)
    n_blocks = rows * cols // GGML_BLOCK
    if len(raw) != n_blocks * per_block:
        raise ValueError(
            f"{len(raw)} bytes are not {n_blocks} blocks of {per_block} bytes (Q{bits}_0, shape {shape})."
        )
    blocks = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(n_blocks, per_block)
    d = blocks[:, :2].contiguous().view(torch.float16).reshape(rows, cols // GGML_BLOCK)
    qs = blocks[:, 2:]
    if bits == 8:
        codes = qs.contiguous().view(torch.int8)
    else:
        codes = torch.cat([qs & 0x0F, qs >> 4], dim=1).to(torch.int8) - 8
    return QuantizedTensor(codes.reshape(rows, cols), d, bits, GGML_BLOCK)


# ----------------------------------------------------------------------------------------------
# A whole model


class QuantizedLinear(nn.Module):
    """An ``nn.Linear`` whose weight is stored quantized and dequantized at every call."""

    def __init__(self, linear: nn.Linear, bits: int, block_size: int | None) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        qt = quantize(linear.weight, bits, block_size)
        self.bits, self.block_size = bits, qt.block_size
        self.codes: torch.Tensor  # buffers: saved with the model, never trained
        self.scales: torch.Tensor
        self.register_buffer("codes", qt.codes)
        self.register_buffer("scales", qt.scales)
        self.bias = (
            None
            if linear.bias is None
            else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        )

    @property
    def quantized(self) -> QuantizedTensor:
        return QuantizedTensor(self.codes, self.scales, self.bits, self.block_size)

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized weight ``(out, in)``, float32."""
        return dequantize(self.quantized)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.to(x.dtype), self.bias)  # (..., out)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}, block_size={self.block_size}"


def quantize_model(
    model: nn.Module, bits: int = 8, block_size: int | None = GGML_BLOCK, skip: tuple[str, ...] = ()
) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` replaced by a ``QuantizedLinear`` (weights only).

    Embeddings and norms stay float32 (a tied output head is quantized as the ``lm_head`` Linear,
    the embedding it shared keeps its float copy). Linear layers named in ``skip`` (e.g.
    ``("lm_head",)``) stay float32. The original model is not changed.
    """
    if bits not in BITS:
        raise ValueError(f"bits must be one of {BITS} (8: int8 / Q8_0, 4: Q4_0), got {bits!r}.")
    out = copy.deepcopy(model).eval()
    for parent_name, parent in list(out.named_modules()):
        for name, child in list(parent.named_children()):
            full = f"{parent_name}.{name}" if parent_name else name
            if type(child) is nn.Linear and full not in skip:
                setattr(parent, name, QuantizedLinear(child, bits, block_size))
    return out


def model_bytes(model: nn.Module) -> int:
    """Bytes a model's weights take as stored: float parameters, plus packed codes and scales.

    Quantized codes count ``bits`` per weight (they would be packed two to a byte for 4 bits);
    a tensor shared by two modules counts once.
    """
    seen: set[int] = set()
    total = 0
    for module in model.modules():
        if isinstance(module, QuantizedLinear):
            total += module.quantized.nbytes() + (
                module.bias.numel() * 4 if module.bias is not None else 0
            )
            seen.update(id(t) for t in (module.codes, module.scales, module.bias) if t is not None)
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel() * p.element_size()
    return total


def weight_errors(
    model: nn.Module, bits: int = 8, block_size: int | None = GGML_BLOCK
) -> dict[str, torch.Tensor]:
    """For each ``nn.Linear`` of ``model``: ``dequantize(quantize(w)) - w``, flattened (for histograms)."""
    return {
        name: (
            dequantize(quantize(m.weight, bits, block_size)) - m.weight.detach().float()
        ).flatten()
        for name, m in model.named_modules()
        if type(m) is nn.Linear
    }


def pytorch_dynamic_int8(model: nn.Module, skip: tuple[str, ...] = ("lm_head",)) -> nn.Module:
    """PyTorch's own dynamic int8 quantization of the ``nn.Linear`` layers (a copy; ``torch.ao.quantization``).

    Weights become int8 with one float scale per tensor; activations are quantized on the fly at
    each call and the products run in int8 kernels (fbgemm / onednn on x86, qnnpack on ARM).
    ``lm_head`` is skipped by default: a quantized one has no ``.weight`` tensor, which the course
    models read to find their device.
    """
    import warnings

    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    out = copy.deepcopy(model).eval()
    spec = {
        name: default_dynamic_qconfig
        for name, m in out.named_modules()
        if type(m) is nn.Linear and name not in skip
    }
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(out, spec, dtype=torch.qint8, inplace=True)


def dynamic_int8_bytes(model: nn.Module) -> int:
    """Bytes of a model made by ``pytorch_dynamic_int8``: int8 weights, float32 biases and the rest."""
    total, seen = 0, set()
    for module in model.modules():
        if (
            hasattr(module, "_packed_params")
            and hasattr(module, "weight")
            and callable(module.weight)
        ):
            w = module.weight()  # (out, in) qint8
            total += (
                w.numel() + 8 + (module.bias().numel() * 4 if module.bias() is not None else 0)
            )  # + scale, zero point
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel() * p.element_size()
    return total
