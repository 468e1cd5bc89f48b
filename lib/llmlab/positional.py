"""Position encodings: sinusoidal, learned and rotary (lesson 02).

Self-attention treats its input as a *set*: permute the tokens and its
outputs are permuted the same way.  A transformer gets word order only from
a position signal.  Three kinds are in use:

* **Sinusoidal** (Vaswani et al. 2017, "Attention Is All You Need", section 3.5,
  https://arxiv.org/abs/1706.03762): a fixed table added to the token embeddings,

      PE(pos, 2i)   = sin(pos / base^(2i / d_model))
      PE(pos, 2i+1) = cos(pos / base^(2i / d_model)),   i = 0 .. d_model/2 - 1

  ``i`` indexes *pairs* of dimensions (a sine and a cosine of the same
  frequency), not single dimensions.  The paper: "the wavelengths form a
  geometric progression from 2π to 10000 · 2π".
* **Learned** (GPT-2, Radford et al. 2019; BERT, Devlin et al. 2018): one trained
  vector per position, ``model.transformer.wpe`` in :class:`llmlab.gpt.GPT`.
* **Rotary, RoPE** (Su et al. 2021, "RoFormer", https://arxiv.org/abs/2104.09864;
  used by LLaMA, Touvron et al. 2023): queries and keys are *rotated*, pair by
  pair, by an angle proportional to their position, so that the score
  ``q_m · k_n`` depends only on the offset ``m - n``.

Pairing conventions.  Two ways of choosing the pairs are in use, and both are
in this module:

* **Adjacent pairs** (2i, 2i+1), as the paper writes it and as Meta's reference
  code does: ``apply_rotary_emb`` in https://github.com/meta-llama/llama
  (``llama/model.py``) reshapes the last dimension to ``(head_dim/2, 2)``, views
  each pair as a complex number and multiplies it by ``e^(i·m·θ_i)``
  (``freqs_cis`` from ``precompute_freqs_cis``).  :func:`apply_rope` with
  ``interleaved=True`` (the default), and :func:`apply_rope_complex`, which is
  written the way Meta's code is.
* **Split halves** (i, i + head_dim/2): Hugging Face's port of LLaMA
  (``rotate_half`` in transformers' ``modeling_llama.py``);
  :func:`apply_rope` with ``interleaved=False``.  To load Meta's weights into it,
  transformers' ``convert_llama_weights_to_hf.py`` permutes the rows of every
  query and key projection (its ``permute``: ``w.view(n_heads, head_dim//2, 2,
  dim).transpose(1, 2)``), :func:`permute_for_rotate_half` here.

The two are the same rotation up to a fixed permutation of each head's
dimensions (:func:`interleaved_to_half`): rotating permuted vectors the
split-halves way gives the permuted result of rotating them the adjacent way,
so attention scores (dot products within a head) are identical.  The tests
check both forms against transcriptions of Meta's and Hugging Face's code.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "apply_rope",
    "apply_rope_complex",
    "frequencies",
    "half_to_interleaved",
    "interleaved_to_half",
    "learned_positions",
    "permute_for_rotate_half",
    "position_similarity",
    "rope_angles",
    "shift_matrix",
    "similarity_by_distance",
    "sinusoidal",
    "wavelengths",
]


def _check_even(d: int, name: str) -> None:
    if not isinstance(d, int) or d <= 0:
        raise ValueError(f"{name} must be a positive integer, got {d!r}.")
    if d % 2:
        raise ValueError(
            f"{name} must be even, got {d}: position encodings work on pairs of dimensions "
            f"(a sine and a cosine, or the two coordinates of a rotation). Use {d - 1} or {d + 1}."
        )


def frequencies(d_model: int, base: float = 10000.0) -> Tensor:
    """Angular frequency of each pair of dimensions, ``base^(-2i/d_model)``; shape ``(d_model/2,)``.

    Pair ``i`` (dimensions ``2i`` and ``2i+1``) turns by this many radians per position.
    The same frequencies are RoPE's ``theta_i`` (Su et al. 2021, section 3.2.2).
    """
    _check_even(d_model, "d_model")
    i = torch.arange(d_model // 2, dtype=torch.float64)  # (d/2,) pair index
    return base ** (-2.0 * i / d_model)


def wavelengths(d_model: int, base: float = 10000.0) -> Tensor:
    """Wavelength (in positions) of each pair, ``2π · base^(2i/d_model)``; shape ``(d_model/2,)``.

    A geometric progression: it starts at 2π (pair 0) and each pair multiplies the
    previous wavelength by ``base^(2/d_model)``, approaching ``base · 2π``.
    """
    return 2 * math.pi / frequencies(d_model, base)


def sinusoidal(n_positions: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The sinusoidal position encoding of Vaswani et al. 2017 (section 3.5).

    Returns a float32 tensor of shape ``(n_positions, d_model)`` whose row ``pos`` is
    added to the embedding of the token at position ``pos``:
    ``PE[pos, 2i] = sin(pos · ω_i)``, ``PE[pos, 2i+1] = cos(pos · ω_i)``, with
    ``ω_i = base^(-2i/d_model)`` and ``i = 0 .. d_model/2 - 1`` indexing pairs.
    An odd ``d_model`` raises ``ValueError`` (the formula needs whole pairs).
    """
    if not isinstance(n_positions, int) or n_positions <= 0:
        raise ValueError(f"n_positions must be a positive integer, got {n_positions!r}.")
    omega = frequencies(d_model, base)  # (d/2,)
    pos = torch.arange(n_positions, dtype=torch.float64)  # (P,)
    angles = pos[:, None] * omega[None, :]  # (P, d/2)
    pe = torch.empty(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)  # even dimensions 2i
    pe[:, 1::2] = torch.cos(angles)  # odd dimensions 2i+1
    return pe.float()


def shift_matrix(k: int | float, d_model: int, base: float = 10000.0) -> Tensor:
    """The fixed matrix ``R_k`` with ``PE(pos + k) = R_k @ PE(pos)`` for every ``pos``.

    Shape ``(d_model, d_model)``, block diagonal: pair ``i`` gets the 2x2 rotation
    ``[[cos kω_i, sin kω_i], [-sin kω_i, cos kω_i]]`` acting on ``(sin, cos)``,
    from sin(a+b) = sin a cos b + cos a sin b and cos(a+b) = cos a cos b - sin a sin b.
    This is why Vaswani et al. chose sinusoids: "for any fixed offset k, PE_pos+k
    can be represented as a linear function of PE_pos".
    """
    omega = frequencies(d_model, base)  # (d/2,)
    c, s = torch.cos(k * omega), torch.sin(k * omega)
    r = torch.zeros(d_model, d_model, dtype=torch.float64)
    idx = torch.arange(0, d_model, 2)
    r[idx, idx] = c
    r[idx, idx + 1] = s
    r[idx + 1, idx] = -s
    r[idx + 1, idx + 1] = c
    return r.float()


def position_similarity(pe: Tensor, cosine: bool = False) -> Tensor:
    """Dot products (or cosine similarities) between all position vectors.

    ``pe``: ``(n_positions, d)``; returns ``(n_positions, n_positions)``.  For the
    sinusoidal table, ``PE(m) · PE(n) = Σ_i cos((m - n) ω_i)`` depends on ``m - n`` only.
    """
    pe = pe.detach().float()
    if cosine:
        pe = pe / pe.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return pe @ pe.T


def similarity_by_distance(pe: Tensor, cosine: bool = True) -> Tensor:
    """Mean similarity of two positions as a function of their distance ``k = n - m``.

    ``pe``: ``(n_positions, d)``; returns ``(n_positions,)`` whose entry ``k`` averages
    the (cosine, by default) similarity over all pairs ``(m, m + k)``.  Entry 0 is 1 for cosines.
    """
    sim = position_similarity(pe, cosine=cosine)  # (P, P)
    return torch.stack([torch.diagonal(sim, offset=k).mean() for k in range(sim.shape[0])])


def learned_positions(model) -> Tensor:
    """The learned position embeddings of a GPT, ``model.transformer.wpe.weight``.

    Returns a detached float32 CPU copy of shape ``(block_size, n_embd)``: one
    trained vector per position, as in GPT-2 (Radford et al. 2019).
    """
    try:
        weight = model.transformer.wpe.weight
    except AttributeError as exc:
        raise TypeError(
            "learned_positions expects an llmlab.gpt.GPT (or any model with "
            "model.transformer.wpe, an nn.Embedding of positions); pass checkpoint.model, "
            "not the checkpoint."
        ) from exc
    return weight.detach().float().cpu().clone()


# ---------------------------------------------------------------------------- RoPE


def rope_angles(positions: Tensor, head_dim: int, base: float = 10000.0) -> Tensor:
    """Rotation angle of every (position, pair): ``positions[..., None] · θ_i``.

    Shape ``(..., head_dim/2)``, float64 on the CPU.
    """
    theta = frequencies(head_dim, base)  # (hd/2,) float64, on the CPU
    pos = positions.detach().cpu().to(torch.float64)
    return pos[..., None] * theta


def interleaved_to_half(x: Tensor) -> Tensor:
    """Permute the last dimension from interleaved pairs (0,1),(2,3),.. to halves (0,h),(1,h+1),..

    ``[x0, x1, x2, x3, ...] -> [x0, x2, ..., x1, x3, ...]``: the fixed permutation that
    turns the paper's (and Meta's) pairing into Hugging Face's ``rotate_half`` pairing.
    """
    return torch.cat([x[..., 0::2], x[..., 1::2]], dim=-1)


def half_to_interleaved(x: Tensor) -> Tensor:
    """Inverse of :func:`interleaved_to_half`."""
    h = x.shape[-1] // 2
    return torch.stack([x[..., :h], x[..., h:]], dim=-1).flatten(-2)


def apply_rope(
    x: Tensor,
    positions: Tensor | None = None,
    base: float = 10000.0,
    interleaved: bool = True,
) -> Tensor:
    """Rotary position embedding (Su et al. 2021, section 3.4.2) applied to queries or keys.

    ``x``: ``(..., seq, head_dim)`` with ``head_dim`` even.  ``positions``: integer (or
    float) positions of shape ``(seq,)`` or broadcastable to ``x.shape[:-1]``; default
    ``0 .. seq-1``.  Pair ``(a, b)`` at position ``m`` becomes
    ``(a cos mθ_i - b sin mθ_i, a sin mθ_i + b cos mθ_i)``, ``θ_i = base^(-2i/head_dim)``.

    ``interleaved=True`` pairs dimensions ``(2i, 2i+1)`` as in the paper;
    ``interleaved=False`` pairs ``(i, i + head_dim/2)`` as Hugging Face's LLaMA port (``rotate_half``);
    Meta's own LLaMA code uses adjacent pairs (see the module docstring).
    Returns a tensor of ``x``'s shape and dtype; norms are preserved.
    """
    if x.dim() < 2:
        raise ValueError(
            f"apply_rope expects x of shape (..., seq, head_dim), got shape {tuple(x.shape)}."
        )
    seq, head_dim = x.shape[-2], x.shape[-1]
    _check_even(head_dim, "head_dim (the last dimension of x)")
    if positions is None:
        positions = torch.arange(seq, device=x.device)
    positions = torch.as_tensor(positions, device=x.device)
    if positions.shape[-1:] != (seq,) and positions.dim() > 0:
        raise ValueError(
            f"positions must have one entry per token: last dimension {seq} (x is "
            f"{tuple(x.shape)}), got positions of shape {tuple(positions.shape)}."
        )
    # float64 for the angles (large m·θ stays exact); Apple's MPS has no float64
    work = torch.float32 if x.device.type == "mps" else torch.float64
    angles = rope_angles(positions, head_dim, base).to(work).to(x.device)  # (..., seq, hd/2)
    cos, sin = torch.cos(angles), torch.sin(angles)
    xd = x.to(work)
    if interleaved:
        a, b = xd[..., 0::2], xd[..., 1::2]  # (..., seq, hd/2) each
    else:
        a, b = xd[..., : head_dim // 2], xd[..., head_dim // 2 :]
    ra = a * cos - b * sin
    rb = a * sin + b * cos
    if interleaved:
        out = torch.stack([ra, rb], dim=-1).flatten(-2)  # (..., seq, hd)
    else:
        out = torch.cat([ra, rb], dim=-1)
    return out.to(x.dtype)


def apply_rope_complex(x: Tensor, positions: Tensor | None = None, base: float = 10000.0) -> Tensor:
    """RoPE on adjacent pairs (2i, 2i+1), written as Meta's LLaMA code writes it: complex products.

    ``x``: ``(..., seq, head_dim)``; ``positions`` as in :func:`apply_rope`.  Pair
    ``(a, b)`` is the complex number ``a + ib``; rotating it by ``m·θ_i`` is multiplying by
    ``e^(i·m·θ_i) = cos m·θ_i + i sin m·θ_i``.  Same result as ``apply_rope(x, positions,
    base, interleaved=True)`` (up to rounding); returns ``x``'s shape and dtype.
    """
    if x.dim() < 2 or x.shape[-1] % 2:
        raise ValueError(
            f"apply_rope_complex expects x of shape (..., seq, head_dim) with head_dim even, "
            f"got shape {tuple(x.shape)}."
        )
    seq = x.shape[-2]
    if positions is None:
        positions = torch.arange(seq)
    angles = rope_angles(torch.as_tensor(positions), x.shape[-1], base)  # (..., seq, hd/2) float64
    rotation = torch.polar(torch.ones_like(angles), angles).to(x.device)  # e^(i·m·θ_i), complex128
    pairs = torch.view_as_complex(
        x.double().reshape(*x.shape[:-1], -1, 2).contiguous()
    )  # (..., seq, hd/2)
    return torch.view_as_real(pairs * rotation).flatten(-2).to(x.dtype)  # (..., seq, hd)


def permute_for_rotate_half(weight: Tensor, n_heads: int) -> Tensor:
    """Reorder the rows of a query or key projection from adjacent-pair RoPE to split-halves RoPE.

    ``weight``: ``(n_heads * head_dim, d_in)``, an ``nn.Linear`` weight whose output
    is cut into ``n_heads`` heads.  Within each head, output rows ``0, 2, 4, ..`` come
    first, then ``1, 3, 5, ..`` (:func:`interleaved_to_half` applied to the rows), which
    is what transformers' ``convert_llama_weights_to_hf.py`` does to Meta's ``wq`` and
    ``wk`` (its ``permute``).  A model using ``apply_rope(..., interleaved=False)`` with
    the permuted weights computes the same attention scores as the original model
    with adjacent pairs.  Returns a tensor of ``weight``'s shape.
    """
    rows, d_in = weight.shape
    if n_heads <= 0 or rows % n_heads or (rows // n_heads) % 2:
        raise ValueError(
            f"weight has {rows} rows: that is not n_heads={n_heads} heads of an even head_dim."
        )
    per_head = weight.reshape(n_heads, rows // n_heads, d_in)  # (nh, hd, d_in)
    return interleaved_to_half(per_head.transpose(1, 2)).transpose(1, 2).reshape(rows, d_in)
