"""Scaled dot-product attention and multi-head attention (lesson 03; used by the GPT of lesson 04).

Vaswani et al. (2017), "Attention Is All You Need", https://arxiv.org/abs/1706.03762, Section 3.2.1:

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

"We suspect that for large values of d_k, the dot products grow large in magnitude, pushing the
softmax function into regions where it has extremely small gradients. To counteract this effect,
we scale the dot products by 1/sqrt(d_k)."

Two paths compute the same thing (equal within 1e-5, tested):

* ``scaled_dot_product_attention``: the explicit math, four lines a learner can read, which also
  returns the attention weights;
* ``torch.nn.functional.scaled_dot_product_attention``: PyTorch's fused kernel (flash / memory
  efficient attention), which ``MultiHeadAttention.forward`` runs; its ``attention_weights``
  takes the explicit path, the one way to read the weights.

Masks are boolean tensors where **True means "may attend"** (the convention of
``torch.nn.functional.scaled_dot_product_attention``), broadcastable to ``(..., T_q, T_k)``.

``MultiHeadAttention`` also covers grouped-query attention (GQA, Ainslie et al. 2023,
https://arxiv.org/abs/2305.13245): ``n_kv_heads < n_heads`` query heads share one key/value head
per group, which shrinks the KV cache; ``n_kv_heads = 1`` is multi-query attention (MQA, Shazeer
2019, https://arxiv.org/abs/1911.02150). LLaMA 2 70B uses GQA with 8 key/value heads
(Touvron et al. 2023, https://arxiv.org/abs/2307.09288).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------------------------------------------------------------
# Masks


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The causal mask ``(T, T)`` bool: position i may attend to positions j <= i (lower triangle)."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Turn a ``(B, T)`` "real token" mask (1/True = token, 0/False = padding) into a key mask.

    Returns ``(B, 1, 1, T)`` bool, broadcastable to ``(B, n_heads, T_q, T)``: no query may attend
    to a padding key. Combine it with a causal mask with ``combine_masks``.
    """
    if attention_mask.dim() != 2:
        raise ValueError(
            f"padding_mask expects a (batch, seq_len) tensor of 1 (token) / 0 (padding), "
            f"got shape {tuple(attention_mask.shape)}."
        )
    return attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T)


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Logical AND of boolean masks (None entries are skipped), broadcasting their shapes."""
    out = None
    for m in masks:
        if m is not None:
            out = m if out is None else out & m
    return out


def _check_mask(mask: torch.Tensor) -> None:
    if mask.dtype != torch.bool:
        raise ValueError(
            f"attention masks must be bool tensors (True = may attend), got dtype {mask.dtype}; "
            "use mask.bool() or build one with causal_mask / padding_mask."
        )


# ----------------------------------------------------------------------------------------------
# Scaled dot-product attention, the explicit math


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d)) v, written out.

    q: ``(..., T_q, d)``; k, v: ``(..., T_k, d)``; mask: bool broadcastable to ``(..., T_q, T_k)``,
    True = may attend. Returns ``(out (..., T_q, d_v), weights (..., T_q, T_k))``; each row of
    ``weights`` sums to 1 (a query that may attend to nothing gets a row of zeros and output 0).
    ``dropout_p > 0`` drops attention weights when computing ``out`` (the returned weights are the
    ones before dropout).
    """
    d = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., T_q, T_k)
    if mask is not None:
        _check_mask(mask)
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., T_q, T_k)
    if mask is not None:
        # a fully masked row is softmax(-inf, ..., -inf) = NaN; give it zero weights instead
        weights = weights.masked_fill(~mask, 0.0)
    used = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    return used @ v, weights  # (..., T_q, d_v), (..., T_q, T_k)


# ----------------------------------------------------------------------------------------------
# The KV cache of one attention layer (incremental decoding, see llmlab.generation)


class KVCache:
    """The keys and values one attention layer has already computed, ``(B, n_kv_heads, T_past, hs)``.

    During generation each new token only needs its own query; its keys and values are appended
    here and the query attends to everything stored (Pope et al. 2022, "Efficiently Scaling
    Transformer Inference", https://arxiv.org/abs/2211.05102, Section 2).
    """

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.size(2)

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new ``(B, n_kv, T_new, hs)`` keys/values; return all of them so far."""
        if self.k is not None and self.v is not None:
            k = torch.cat([self.k, k], dim=2)  # (B, n_kv, T_past + T_new, hs)
            v = torch.cat([self.v, v], dim=2)
        self.k, self.v = k, v
        return k, v

    def nbytes(self) -> int:
        """Memory the cached keys and values take, in bytes."""
        if self.k is None or self.v is None:
            return 0
        return self.k.numel() * self.k.element_size() + self.v.numel() * self.v.element_size()


# ----------------------------------------------------------------------------------------------
# Multi-head attention


class MultiHeadAttention(nn.Module):
    """Multi-head (self-)attention with optional grouped-query / multi-query attention.

    ``d_model`` is split into ``n_heads`` heads of size ``hs = d_model // n_heads``; the keys and
    values have ``n_kv_heads`` heads (default ``n_heads``), each shared by ``n_heads // n_kv_heads``
    query heads. ``causal=True`` lets position i attend only to positions <= i (a GPT decoder);
    ``causal=False`` attends everywhere (a BERT-style encoder).

    Submodules: ``q_proj (C -> C)``, ``k_proj, v_proj (C -> n_kv_heads * hs)``, ``out_proj (C -> C)``,
    three plain projections (LoRA can wrap any of them; ``llmlab.lora``).

    ``forward`` runs PyTorch's fused kernel; ``attention_weights`` computes the same weights with
    the explicit math (``scaled_dot_product_attention``), for pictures and measurements.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_kv_heads: int | None = None,
        causal: bool = True,
        bias: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if n_heads < 1 or n_kv_heads < 1:
            raise ValueError(
                f"n_heads and n_kv_heads must be >= 1, got {n_heads} and {n_kv_heads}."
            )
        if d_model % n_heads != 0:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by n_heads ({n_heads}) so that every head "
                f"gets the same size; pick n_heads among the divisors of {d_model}."
            )
        if n_heads % n_kv_heads != 0:
            raise ValueError(
                f"n_heads ({n_heads}) must be divisible by n_kv_heads ({n_kv_heads}): each key/value "
                f"head serves a group of n_heads // n_kv_heads query heads."
            )
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.head_size = d_model // n_heads
        self.causal = causal
        self.dropout = dropout
        kv_dim = n_kv_heads * self.head_size
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, kv_dim, bias=bias)
        self.v_proj = nn.Linear(d_model, kv_dim, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def heads(
        self, x: torch.Tensor, past: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Project x ``(B, T, C)`` to queries ``(B, nh, T, hs)``, keys and values ``(B, nkv, T, hs)``.

        ``past``: how many earlier positions a KV cache holds (the new tokens sit at positions
        ``past .. past + T - 1``); a positional scheme inside attention (RoPE, ``llmlab.llama``)
        needs it, plain attention ignores it.
        """
        B, T, _ = x.shape
        q = (
            self.q_proj(x).view(B, T, self.n_heads, self.head_size).transpose(1, 2)
        )  # (B, nh, T, hs)
        k = (
            self.k_proj(x).view(B, T, self.n_kv_heads, self.head_size).transpose(1, 2)
        )  # (B, nkv, T, hs)
        v = (
            self.v_proj(x).view(B, T, self.n_kv_heads, self.head_size).transpose(1, 2)
        )  # (B, nkv, T, hs)
        return q, k, v

    def _share_kv(self, t: torch.Tensor) -> torch.Tensor:
        """Grouped-query attention: each key/value head serves n_heads // n_kv_heads query heads."""
        if self.n_kv_heads == self.n_heads:
            return t
        return t.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)  # (B, nh, T_k, hs)

    def _mask(self, mask: torch.Tensor | None, T: int, past: int, device) -> torch.Tensor | None:
        """The keys each query may see, ``(..., T, past + T)``: ``mask`` AND the causal mask.

        Query i sits at position past + i and may see keys 0 .. past + i.
        """
        if mask is not None:
            _check_mask(mask)
        if not self.causal or T == 1:  # one new query may see every key before it
            return mask
        return combine_masks(mask, causal_mask(past + T, device)[past:])  # (T, T_k)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> torch.Tensor:
        """x ``(B, T, C)`` -> y ``(B, T, C)``, with PyTorch's fused attention kernel.

        ``mask``: bool broadcastable to ``(B, n_heads, T, T_k)``, True = may attend (e.g. a
        ``padding_mask``); combined with the causal mask when ``causal``. ``cache``: a ``KVCache``
        holding the keys/values of earlier positions, which this call extends (incremental
        decoding); then ``T_k = T_past + T``.
        """
        B, T, C = x.shape
        past = len(cache) if cache is not None else 0
        q, k, v = self.heads(x, past)  # (B, nh, T, hs), (B, nkv, T, hs), (B, nkv, T, hs)
        if cache is not None:
            k, v = cache.update(k, v)  # (B, nkv, past + T, hs)
        k, v = self._share_kv(k), self._share_kv(v)  # (B, nh, T_k, hs)
        dropout_p = self.dropout if self.training else 0.0
        if self.causal and mask is None and past == 0:  # the kernel builds the causal mask itself
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=self._mask(mask, T, past, x.device), dropout_p=dropout_p
            )  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)  # re-assemble all heads side by side: (B, T, C)
        return self.resid_dropout(self.out_proj(y))

    def attention_weights(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The attention weights ``(B, n_heads, T, T)`` of x ``(B, T, C)``, by the explicit math.

        Row i of a head's map is how much query i attends to each key (rows sum to 1). The same
        projections and masks as ``forward``, whose output is these weights times the values.
        """
        T = x.size(1)
        q, k, v = self.heads(x)
        k, v = self._share_kv(k), self._share_kv(v)  # (B, nh, T, hs)
        _, weights = scaled_dot_product_attention(q, k, v, self._mask(mask, T, 0, x.device))
        return weights  # (B, nh, T, T)

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, n_heads={self.n_heads}, n_kv_heads={self.n_kv_heads}, "
            f"head_size={self.head_size}, causal={self.causal}"
        )
