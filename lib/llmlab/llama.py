"""A LLaMA-architecture decoder, small enough for a laptop CPU (lesson 07).

Touvron et al. (2023a), "LLaMA: Open and Efficient Foundation Language Models",
https://arxiv.org/abs/2302.13971, Section 2.2 lists what LLaMA changes in the GPT recipe:

* "Pre-normalization [GPT3]. ... we normalize the input of each transformer sub-layer ...
  We use the RMSNorm normalizing function, introduced by Zhang and Sennrich (2019)."
* "SwiGLU activation function [PaLM]. We replace the ReLU non-linearity by the SwiGLU activation
  function, introduced by Shazeer (2020) ... We use a dimension of 2/3 4d instead of 4d as in PaLM."
* "Rotary Embeddings [GPTNeo]. We remove the absolute positional embeddings, and instead, add
  rotary positional embeddings (RoPE), introduced by Su et al. (2021), at each layer of the network."

LLaMA 2 (Touvron et al. 2023b, https://arxiv.org/abs/2307.09288, Section 2.2) keeps this and adds
grouped-query attention (GQA, Ainslie et al. 2023) to its 34B and 70B models. Its linear layers
have no biases, and the output head is a separate matrix from the token embedding (not tied).

The data flows top to bottom, as in ``llmlab.gpt``:

    idx (B, T) -> token embedding -> n_layer x Block -> RMSNorm -> lm_head
    Block: x + attn(attn_norm(x)), then x + mlp(mlp_norm(x))
    attn: q, k, v projections -> RoPE on q and k -> (grouped-query) attention -> o projection

The attention is ``llmlab.attention.MultiHeadAttention`` (its grouped-query path, its KV cache);
RoPE is ``llmlab.positional.apply_rope`` with the split-halves pairing (``interleaved=False``) of
Hugging Face's ``LlamaForCausalLM``, whose logits this model reproduces (``load_hf_llama``, tested
within 1e-4).  Meta's own code pairs adjacent dimensions instead; Hugging Face's conversion permutes
the q/k weight rows so that both give the same scores (``llmlab.positional.permute_for_rotate_half``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from llmlab.attention import KVCache, MultiHeadAttention
from llmlab.gpt import check_token_ids, embed_tokens, next_token_loss
from llmlab.positional import apply_rope

#: ``LlamaConfig.arch`` written into checkpoints, so that a loader knows what it holds.
ARCH = "llama"


@dataclass
class LlamaConfig:
    """The hyper-parameters of a LLaMA-style model (names follow ``llmlab.gpt.GPTConfig``).

    n_kv_head: key/value heads (None: n_head, plain multi-head attention; fewer: grouped-query).
    d_ff: hidden width of the SwiGLU MLP (None: LLaMA's 2/3 * 4 * n_embd, rounded up to a
    multiple of ``multiple_of``, as Meta's ``llama/model.py`` does with ``multiple_of = 256``).
    rope_base: the RoPE base (10,000 in the RoPE paper and LLaMA 1/2). norm_eps: RMSNorm's epsilon
    (1e-5 in LLaMA 2's released configs). tie_embeddings: share the token embedding with the output
    head (LLaMA does not; tiny models often do).
    """

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    n_kv_head: int | None = None
    d_ff: int | None = None
    multiple_of: int = 32
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = False
    dropout: float = 0.0
    arch: str = ARCH

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "multiple_of"):
            if int(getattr(self, name)) < 1:
                raise ValueError(
                    f"LlamaConfig.{name} must be a positive integer, got {getattr(self, name)}."
                )
        if self.n_kv_head is None:
            self.n_kv_head = self.n_head
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError(
                f"n_embd ({self.n_embd}) must split into n_head ({self.n_head}) heads of an even size: "
                "RoPE rotates pairs of dimensions."
            )
        if self.n_kv_head < 1 or self.n_head % self.n_kv_head:
            raise ValueError(
                f"n_head ({self.n_head}) must be a multiple of n_kv_head ({self.n_kv_head})."
            )
        if self.d_ff is None:
            hidden = int(2 * 4 * self.n_embd / 3)
            self.d_ff = self.multiple_of * -(-hidden // self.multiple_of)

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LlamaConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


# ----------------------------------------------------------------------------------------------
# The building blocks, in the order the data flows through them


class RMSNorm(nn.Module):
    """RMSNorm (Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467): ``x / rms(x) * weight``.

    LayerNorm without the mean and the bias: ``rms(x) = sqrt(mean(x^2) + eps)`` over the last
    dimension. Computed in float32 whatever the input's dtype, as Meta's and Hugging Face's code do.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)  # (B, T, C)
        return self.weight * xf.to(x.dtype)


class SwiGLU(nn.Module):
    """The SwiGLU MLP (Shazeer 2020, https://arxiv.org/abs/2002.05202): ``down(silu(gate(x)) * up(x))``.

    Three matrices instead of GPT's two, so the hidden width is 2/3 of GPT's 4C to keep the
    parameter count (LLaMA, Section 2.2). Names as in Hugging Face's ``LlamaMLP``.
    """

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        d_ff = config.d_ff
        assert d_ff is not None  # LlamaConfig.__post_init__ fills it in
        self.gate_proj = nn.Linear(config.n_embd, d_ff, bias=False)
        self.up_proj = nn.Linear(config.n_embd, d_ff, bias=False)
        self.down_proj = nn.Linear(d_ff, config.n_embd, bias=False)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(
            self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        )  # (B, T, C)


class RotaryAttention(MultiHeadAttention):
    """``MultiHeadAttention`` with RoPE applied to the queries and keys right after their projections.

    Everything else (grouped-query heads, the KV cache, the fused kernel) is the parent's. ``heads``
    rotates the new queries and keys to their positions ``past .. past + T - 1``; keys enter the
    cache already rotated, as in Meta's code.
    """

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(
            config.n_embd,
            config.n_head,
            config.n_kv_head,
            causal=True,
            bias=False,
            dropout=config.dropout,
        )
        self.rope_base = config.rope_base

    def heads(
        self, x: torch.Tensor, past: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = super().heads(x)  # (B, nh, T, hs), (B, nkv, T, hs) x 2
        pos = torch.arange(past, past + x.size(1), device=x.device)  # (T,)
        q = apply_rope(q, pos, self.rope_base, interleaved=False)  # LLaMA's rotate_half pairs
        k = apply_rope(k, pos, self.rope_base, interleaved=False)
        return q, k, v

    def extra_repr(self) -> str:
        return super().extra_repr() + f", rope_base={self.rope_base}"


class Block(nn.Module):
    """One LLaMA block, pre-RMSNorm: ``x + attn(attn_norm(x))``, then ``x + mlp(mlp_norm(x))``."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.n_embd, config.norm_eps)
        self.attn = RotaryAttention(config)
        self.mlp_norm = RMSNorm(config.n_embd, config.norm_eps)
        self.mlp = SwiGLU(config)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> torch.Tensor:
        """x ``(B, T, C)`` -> ``(B, T, C)``; mask and cache as in ``MultiHeadAttention.forward``."""
        x = x + self.attn(self.attn_norm(x), mask=mask, cache=cache)  # (B, T, C)
        x = x + self.mlp(self.mlp_norm(x))  # (B, T, C)
        return x

    def attention_weights(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The attention weights ``(B, nh, T, T)`` this block computes for its input x ``(B, T, C)``."""
        return self.attn.attention_weights(self.attn_norm(x), mask)


class Llama(nn.Module):
    """A LLaMA language model: ``model(idx (B, T), targets=None) -> (logits (B, T, V), loss)``.

    Same interface as ``llmlab.gpt.GPT`` (``kv_cache``, ``new_kv_cache``, ``attention_maps``), so
    ``llmlab.generation.generate`` and ``llmlab.training.train`` work with it unchanged. No position
    embedding: positions enter only through RoPE inside each attention layer.
    """

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_embeddings = nn.Embedding(config.vocab_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.norm = RMSNorm(config.n_embd, config.norm_eps)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.tok_embeddings.weight = self.lm_head.weight
        # The same initialisation as llmlab.gpt (N(0, 0.02), residual projections / sqrt(2 n_layer)),
        # so that a comparison of the two architectures compares architectures, not initialisations.
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
        for name, p in self.named_parameters():
            if name.endswith("attn.out_proj.weight") or name.endswith("mlp.down_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / (2 * config.n_layer) ** 0.5)

    def embed(self, idx: torch.Tensor, past: int = 0) -> torch.Tensor:
        """Token ids ``(B, T)`` -> ``(B, T, C)``: no position embedding (RoPE acts inside attention)."""
        check_token_ids(idx, past, self.config.block_size)  # the GPT's checks and messages
        return self.drop(embed_tokens(self.tok_embeddings, idx))  # (B, T, C)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        kv_cache: list[KVCache] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx ``(B, T)`` token ids -> ``(logits (B, T, vocab_size), loss or None)``.

        targets, mask and kv_cache as in ``llmlab.gpt.GPT.forward`` (-100 targets are ignored).
        """
        x = self.embed(idx, len(kv_cache[0]) if kv_cache else 0)  # (B, T, C)
        for i, block in enumerate(self.layers):
            x = block(x, mask=mask, cache=kv_cache[i] if kv_cache is not None else None)
        logits = self.lm_head(self.norm(x))  # (B, T, V)
        loss = None if targets is None else next_token_loss(logits, targets)
        return logits, loss

    def blocks(self) -> list[Block]:
        """The blocks ``layers``, in order (typed: an ``nn.ModuleList`` holds any module)."""
        return [cast(Block, b) for b in self.layers]

    def new_kv_cache(self) -> list[KVCache]:
        """An empty KV cache, one ``KVCache`` per layer (it holds ``n_kv_head`` heads, not ``n_head``)."""
        return [KVCache() for _ in self.layers]

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The attention weights of every layer and head: ``(n_layer, B, n_head, T, T)``."""
        x, maps = self.embed(idx), []
        for block in self.blocks():
            maps.append(block.attention_weights(x, mask))  # (B, nh, T, T)
            x = block(x, mask=mask)
        return torch.stack(maps)  # (n_layer, B, nh, T, T)

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device


# ----------------------------------------------------------------------------------------------
# Hugging Face LLaMA weights

#: Our parameter names -> Hugging Face ``LlamaForCausalLM``'s, for block ``{i}``.
_HF_BLOCK_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn.q_proj.weight": "self_attn.q_proj.weight",
    "attn.k_proj.weight": "self_attn.k_proj.weight",
    "attn.v_proj.weight": "self_attn.v_proj.weight",
    "attn.out_proj.weight": "self_attn.o_proj.weight",
    "mlp_norm.weight": "post_attention_layernorm.weight",
    "mlp.gate_proj.weight": "mlp.gate_proj.weight",
    "mlp.up_proj.weight": "mlp.up_proj.weight",
    "mlp.down_proj.weight": "mlp.down_proj.weight",
}


def hf_name(ours: str) -> str:
    """The Hugging Face ``LlamaForCausalLM`` name of one of our parameters."""
    if ours.startswith("layers."):
        _, i, rest = ours.split(".", 2)
        return f"model.layers.{i}.{_HF_BLOCK_NAMES[rest]}"
    return {
        "tok_embeddings.weight": "model.embed_tokens.weight",
        "norm.weight": "model.norm.weight",
    }.get(ours, ours)


def config_from_hf(hf: dict) -> LlamaConfig:
    """Our ``LlamaConfig`` from a Hugging Face LLaMA ``config.json`` (a dict); refuses what we lack."""
    if hf.get("model_type", "llama") != "llama":
        raise ValueError(f"not a LLaMA config: model_type is {hf.get('model_type')!r}.")
    unsupported = [
        k
        for k, ok in (
            ("rope_scaling", not hf.get("rope_scaling")),
            ("attention_bias", not hf.get("attention_bias")),
            ("mlp_bias", not hf.get("mlp_bias")),
            ("hidden_act", hf.get("hidden_act", "silu") == "silu"),
        )
        if not ok
    ]
    if (hf.get("rope_parameters") or {}).get("rope_type", "default") != "default":
        unsupported.append("rope_parameters.rope_type")
    if hf.get("head_dim") not in (None, hf["hidden_size"] // hf["num_attention_heads"]):
        unsupported.append("head_dim")
    if unsupported:
        raise ValueError(
            f"this LLaMA config uses {', '.join(unsupported)}, which llmlab.llama does not implement."
        )
    rope = hf.get("rope_theta") or (hf.get("rope_parameters") or {}).get("rope_theta", 10000.0)
    return LlamaConfig(
        vocab_size=hf["vocab_size"],
        block_size=hf["max_position_embeddings"],
        n_layer=hf["num_hidden_layers"],
        n_head=hf["num_attention_heads"],
        n_embd=hf["hidden_size"],
        n_kv_head=hf.get("num_key_value_heads") or hf["num_attention_heads"],
        d_ff=hf["intermediate_size"],
        rope_base=float(rope),
        norm_eps=hf.get("rms_norm_eps", 1e-6),
        tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
    )


def load_hf_llama(path: str | Path, dtype: torch.dtype = torch.float32) -> Llama:
    """Load a Hugging Face LLaMA folder (``config.json`` + ``model.safetensors``) into our ``Llama``.

    Reads safetensors only (never pickle). Hugging Face's q/k weights already use the split-halves
    RoPE pairing (its conversion script permutes Meta's; see
    ``llmlab.positional.permute_for_rotate_half``), which is ours, so the weights load unchanged.
    """
    from safetensors.torch import load_file

    path = Path(path)
    cfg_file, weights_file = path / "config.json", path / "model.safetensors"
    for f in (cfg_file, weights_file):
        if not f.is_file():
            raise FileNotFoundError(
                f"{f.name} not found in the LLaMA folder {path.name!r}; a Hugging Face LLaMA folder "
                "holds config.json and model.safetensors (save with safe_serialization=True)."
            )
    config = config_from_hf(json.loads(cfg_file.read_text()))
    theirs = load_file(str(weights_file))
    with torch.device("meta"):
        model = Llama(config)
    ours, missing = {}, []
    for name in model.state_dict():
        if config.tie_embeddings and name == "tok_embeddings.weight":
            continue  # tied: loaded through lm_head.weight (or the embedding, below)
        key = hf_name(name)
        if key not in theirs and name == "lm_head.weight" and config.tie_embeddings:
            key = "model.embed_tokens.weight"  # a tied head is often saved only as the embedding
        if key not in theirs:
            missing.append(key)
            continue
        ours[name] = theirs[key].to(dtype).contiguous()
    if missing:
        raise ValueError(
            f"the checkpoint lacks {missing[:3]}{' ...' if len(missing) > 3 else ''}; is it a LLaMA model?"
        )
    model.load_state_dict(ours, strict=False, assign=True)
    if config.tie_embeddings:
        model.tok_embeddings.weight = model.lm_head.weight
    return model.eval()


# ----------------------------------------------------------------------------------------------
# Checkpoints of our own (the course's LLaMA-style model, scripts/train_llama_model.py)


def load_llama_checkpoint(directory: str | Path, device: str | torch.device = "cpu"):
    """Load a folder written by ``llmlab.training.save_checkpoint`` for a ``Llama`` model.

    Returns an ``llmlab.training.Checkpoint`` (model in eval mode, tokenizer, meta). Reads JSON and
    safetensors only.
    """
    from safetensors.torch import load_model

    from llmlab.tokenizers import tokenizer_from_dict
    from llmlab.training import (
        CONFIG_FILE,
        WEIGHTS_FILE,
        Checkpoint,
        _check_weights_file,
        _read_config,
    )

    directory = Path(directory)
    missing = [n for n in (CONFIG_FILE, WEIGHTS_FILE) if not (directory / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"No LLaMA checkpoint in the folder {directory.name!r}: {', '.join(missing)} missing; "
            "scripts/train_llama_model.py writes one."
        )
    payload = _read_config(directory)  # the same one-line errors as llmlab.training.load_checkpoint
    if payload["model"].get("arch") != ARCH:
        raise ValueError(
            f"{CONFIG_FILE} in {directory.name!r} does not describe a LLaMA-style model (no arch 'llama')."
        )
    model = Llama(LlamaConfig.from_dict(payload["model"]))
    _check_weights_file(directory, payload, model)
    load_model(model, str(directory / WEIGHTS_FILE), strict=True, device=str(device))
    return Checkpoint(
        model=model.to(device).eval(),
        tokenizer=tokenizer_from_dict(payload["tokenizer"]),
        meta=payload.get("meta", {}),
    )
