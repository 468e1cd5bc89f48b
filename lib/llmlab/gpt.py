"""A GPT with the GPT-2 architecture, small enough to train on a laptop CPU (lesson 04).

Radford et al. (2019), "Language Models are Unsupervised Multitask Learners" (GPT-2),
https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf,
Section 2.3: the model "largely follows the details of the OpenAI GPT model" (Radford et al. 2018)
with "Layer normalization ... moved to the input of each sub-block ... and an additional layer
normalization was added after the final self-attention block", and residual weights scaled at
initialization "by a factor of 1/sqrt(N) where N is the number of residual layers".

The data flows top to bottom through this file, like nanoGPT's ``model.py``
(https://github.com/karpathy/nanoGPT):

    idx (B, T) -> token embedding + position embedding -> n_layer x Block -> LayerNorm -> lm_head
    Block: x + attn(ln_1(x)), then x + mlp(ln_2(x))        (pre-LayerNorm residual blocks)

``load_hf_gpt2(path)`` loads Hugging Face GPT-2 weights into this class; ``gpt2_config(name)`` gives
the published GPT-2 sizes, and ``meta_model(config)`` builds any size without allocating memory, to
count its parameters.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from llmlab.attention import KVCache, MultiHeadAttention
from llmlab.errors import UsageError, check_int, check_real

#: A target equal to this is left out of the loss (``F.cross_entropy``'s ``ignore_index``): the
#: prompt of a fine-tuning example, the unmasked positions of masked-LM training, padding.
IGNORE_INDEX = -100


@dataclass
class GPTConfig:
    """The hyper-parameters of a GPT.

    vocab_size: number of token ids; block_size: the longest sequence (context) the model sees;
    n_layer: number of blocks; n_head: attention heads per block; n_embd: width of the residual
    stream (C); dropout: dropout probability during training; bias: biases in Linear and
    LayerNorm layers (GPT-2 has them); causal: True for a decoder (GPT), False for an encoder
    (same blocks, every position sees every other, as in BERT); gelu_approximate: "tanh" is
    GPT-2's GELU (Hendrycks & Gimpel's tanh approximation, Hugging Face's ``gelu_new``), "none"
    the exact GELU (nanoGPT's choice; about 3x faster than the tanh form in PyTorch on a CPU).
    """

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    bias: bool = True
    causal: bool = True
    gelu_approximate: str = "tanh"

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            check_int(f"GPTConfig.{name}", getattr(self, name), minimum=1)
        check_real("GPTConfig.dropout", self.dropout)
        for name in ("bias", "causal"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(
                    f"GPTConfig.{name} must be True or False, got {getattr(self, name)!r}."
                )
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}); "
                f"each head gets n_embd // n_head dimensions."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}.")
        if self.gelu_approximate not in ("tanh", "none"):
            raise ValueError(
                f'gelu_approximate must be "tanh" (GPT-2) or "none" (exact), got {self.gelu_approximate!r}.'
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GPTConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


# ----------------------------------------------------------------------------------------------
# The building blocks, in the order the data flows through them


class LayerNorm(nn.Module):
    """LayerNorm (Ba et al. 2016) with an optional bias: (x - mean) / std * weight + bias, over C."""

    def __init__(self, ndim: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class MLP(nn.Module):
    """The position-wise feed-forward network: C -> 4C -> GELU -> C, applied to each token alone.

    GPT-2 uses the tanh approximation of GELU (Hendrycks & Gimpel 2016, https://arxiv.org/abs/1606.08415),
    ``gelu_new`` in Hugging Face's code; ``config.gelu_approximate="none"`` gives the exact GELU.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.fc_in = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate=config.gelu_approximate)
        self.fc_out = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.fc_out(self.gelu(self.fc_in(x))))  # (B, T, C)


class Block(nn.Module):
    """One transformer block, pre-LayerNorm: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = MultiHeadAttention(
            config.n_embd,
            config.n_head,
            causal=config.causal,
            bias=config.bias,
            dropout=config.dropout,
        )
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> torch.Tensor:
        """x ``(B, T, C)`` -> ``(B, T, C)``; mask and cache as in ``MultiHeadAttention.forward``."""
        x = x + self.attn(self.ln_1(x), mask=mask, cache=cache)  # (B, T, C)
        x = x + self.mlp(self.ln_2(x))  # (B, T, C)
        return x

    def attention_weights(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The attention weights ``(B, nh, T, T)`` this block computes for its input x ``(B, T, C)``."""
        return self.attn.attention_weights(self.ln_1(x), mask)


def check_token_ids(idx: torch.Tensor, past: int, block_size: int) -> None:
    """A model's input: a ``(B, T)`` integer tensor that fits the context after ``past`` cached tokens."""
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2:
        shape = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
        raise ValueError(
            f"idx must be a (batch, seq_len) tensor of token ids, got {shape}; "
            "for one sequence use torch.tensor([ids])."
        )
    if idx.dtype not in (torch.long, torch.int, torch.int16, torch.uint8):
        raise ValueError(f"idx must hold integer token ids, got dtype {idx.dtype}.")
    T, bs = idx.size(1), block_size
    if past + T > bs:
        where = f" ({past} cached + {T} new)" if past else ""
        raise ValueError(
            f"Sequence of length {past + T}{where} is longer than the model's context "
            f"(block_size = {bs}): at most {bs} tokens fit; crop the input to its last {bs} "
            f"tokens, e.g. idx[:, -{bs}:]."
        )


def embed_tokens(wte: nn.Embedding, idx: torch.Tensor) -> torch.Tensor:
    """``wte(idx)``: token ids ``(B, T)`` -> their vectors ``(B, T, C)``; an id outside the table stops with one line."""
    try:
        return wte(idx)
    except IndexError:
        raise ValueError(
            f"token ids must lie in 0 .. {wte.num_embeddings - 1} (vocab_size = "
            f"{wte.num_embeddings}); got min {int(idx.min())}, max {int(idx.max())}."
        ) from None


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)``, the next token at each position.

    Positions whose target is ``IGNORE_INDEX`` (-100) are left out of the mean. Targets that are
    not integer ids of the logits' shape, or lie outside the vocabulary, stop with one line.
    """
    if (
        not isinstance(targets, torch.Tensor)
        or targets.is_floating_point()
        or targets.dtype == torch.bool
    ):
        kind = targets.dtype if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise UsageError(f"targets must be a tensor of integer token ids, got {kind}.")
    if targets.shape != logits.shape[:-1]:
        raise UsageError(
            f"targets must have the shape of idx {tuple(logits.shape[:-1])} (the next token at each position), "
            f"got {tuple(targets.shape)}."
        )
    try:
        return F.cross_entropy(
            logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE_INDEX
        )
    except (IndexError, RuntimeError):  # only a bad target id gets here (shapes are checked)
        raise UsageError(
            f"targets must be token ids in 0 .. {logits.size(-1) - 1}, or {IGNORE_INDEX} to leave a "
            f"position out of the loss; got min {int(targets.min())}, max {int(targets.max())}."
        ) from None


class Transformer(nn.Module):
    """The GPT's body, ``model.transformer``: the embeddings, the blocks, the final LayerNorm.

    GPT-2's parameter names (``wte``, ``wpe``, ``h.{i}``, ``ln_f``), as in nanoGPT's ``ModuleDict``.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embedding
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # learned position embedding
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = LayerNorm(config.n_embd, bias=config.bias)

    def blocks(self) -> list[Block]:
        """The blocks ``h``, in order (typed: an ``nn.ModuleList`` holds any module)."""
        return [cast(Block, b) for b in self.h]


class GPT(nn.Module):
    """The GPT-2 language model: ``model(idx (B, T), targets=None) -> (logits (B, T, V), loss)``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = Transformer(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying (Press & Wolf 2017, https://arxiv.org/abs/1608.05859): the output layer
        # reuses the token embedding matrix, as GPT-2 does.
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        # GPT-2: residual projections scaled by 1/sqrt(N), N = 2 residual additions per block
        for name, p in self.named_parameters():
            if name.endswith("attn.out_proj.weight") or name.endswith("mlp.fc_out.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # GPT-2's initialisation: N(0, 0.02) weights, zero biases
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def embed(self, idx: torch.Tensor, past: int = 0) -> torch.Tensor:
        """Token ids ``(B, T)`` at positions ``past .. past + T - 1`` -> the residual stream ``(B, T, C)``."""
        check_token_ids(idx, past, self.config.block_size)
        pos = torch.arange(past, past + idx.size(1), device=idx.device)  # (T,)
        tok_emb = embed_tokens(self.transformer.wte, idx)  # (B, T, C)
        return self.transformer.drop(tok_emb + self.transformer.wpe(pos))  # (B, T, C)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        kv_cache: list[KVCache] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx ``(B, T)`` token ids -> ``(logits (B, T, vocab_size), loss or None)``.

        targets ``(B, T)``: the next token at each position; positions whose target is -100 are
        left out of the (mean cross-entropy) loss. mask: optional bool attention mask broadcastable
        to ``(B, n_head, T, T_k)``, True = may attend (e.g. ``llmlab.attention.padding_mask``).
        kv_cache: one ``KVCache`` per layer (see ``new_kv_cache``), extended by this call; the new
        tokens then sit at positions ``len(kv_cache[0]) ...``.
        """
        past = len(kv_cache[0]) if kv_cache else 0
        x = self.embed(idx, past)  # (B, T, C)
        for i, block in enumerate(self.transformer.h):
            x = block(x, mask=mask, cache=kv_cache[i] if kv_cache is not None else None)
        x = self.transformer.ln_f(x)  # (B, T, C)
        logits = self.lm_head(x)  # (B, T, V)
        loss = None if targets is None else next_token_loss(logits, targets)
        return logits, loss

    def new_kv_cache(self) -> list[KVCache]:
        """An empty KV cache, one ``KVCache`` per layer, for incremental decoding."""
        return [KVCache() for _ in self.transformer.h]

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The attention weights of every layer and head: ``(n_layer, B, n_head, T, T)``.

        Row i of a map is how much query position i attends to each key position (rows sum to 1).
        """
        x, maps = self.embed(idx), []
        for block in self.transformer.blocks():
            maps.append(block.attention_weights(x, mask))  # (B, nh, T, T)
            x = block(x, mask=mask)
        return torch.stack(maps)  # (n_layer, B, nh, T, T)

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device


# ----------------------------------------------------------------------------------------------
# Counting parameters


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameters per component: embeddings, attention, mlp, layer_norms, lm_head, total.

    A tied lm_head shares its matrix with the token embedding (counted once, under embeddings;
    lm_head then shows 0). ``non_embedding`` = total minus the embeddings, the count Kaplan et al.
    (2020, https://arxiv.org/abs/2001.08361) use in their scaling laws. Works on a model built on
    the "meta" device (see ``meta_model``), which holds no memory.
    """
    counts = dict(embeddings=0, attention=0, mlp=0, layer_norms=0, lm_head=0, other=0)
    seen: set[int] = set()
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in seen:  # a tied weight is counted once
            continue
        seen.add(id(p))
        if ".wte." in f".{name}" or ".wpe." in f".{name}":
            part = "embeddings"
        elif ".attn." in name:
            part = "attention"
        elif ".mlp." in name:
            part = "mlp"
        elif "ln_" in name:
            part = "layer_norms"
        elif name.startswith("lm_head"):
            part = "lm_head"
        else:
            part = "other"
        counts[part] += p.numel()
    if counts["other"] == 0:
        del counts["other"]
    counts["total"] = sum(counts.values())
    counts["non_embedding"] = counts["total"] - counts["embeddings"]
    return counts


# ----------------------------------------------------------------------------------------------
# The published GPT-2 sizes, and Hugging Face GPT-2 weights

#: GPT-2's four sizes as released (Hugging Face model names): layers, heads, width. Radford et al.
#: (2019), Table 2, lists them as 117M, 345M, 762M and 1542M parameters; counted with weight
#: tying, the smallest has 124M (the paper's figures appear to leave out some embeddings).
GPT2_SIZES = {
    "gpt2": dict(n_layer=12, n_head=12, n_embd=768),
    "gpt2-medium": dict(n_layer=24, n_head=16, n_embd=1024),
    "gpt2-large": dict(n_layer=36, n_head=20, n_embd=1280),
    "gpt2-xl": dict(n_layer=48, n_head=25, n_embd=1600),
}


def gpt2_config(name: str = "gpt2") -> GPTConfig:
    """The config of a released GPT-2 (vocabulary 50,257 BPE tokens, context 1,024)."""
    if name not in GPT2_SIZES:
        raise ValueError(f"unknown GPT-2 size {name!r}; choose one of {sorted(GPT2_SIZES)}.")
    size = GPT2_SIZES[name]
    return GPTConfig(
        vocab_size=50257,
        block_size=1024,
        n_layer=size["n_layer"],
        n_head=size["n_head"],
        n_embd=size["n_embd"],
    )


def meta_model(config: GPTConfig) -> GPT:
    """A GPT built on the "meta" device: shapes and parameter counts, no memory, no compute."""
    with torch.device("meta"):
        return GPT(config)


def _read_hf_gpt2(path: Path, cfg_file: Path, weights_file: Path, load_file) -> tuple[dict, dict]:
    """The config dict and the weights (``transformer.`` prefix removed) of a Hugging Face GPT-2
    folder, with one-line errors for anything that is not one."""
    try:
        hf = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{cfg_file} is not valid JSON ({e}); the folder is damaged.") from None
    model_type = hf.get("model_type") if isinstance(hf, dict) else None
    if not isinstance(hf, dict) or model_type not in (None, "gpt2"):
        raise UsageError(
            f"{path} holds a {model_type!r} model (config.json model_type), not GPT-2: "
            "load_hf_gpt2 reads only GPT-2 folders."
        )
    missing = [
        k for k in ("vocab_size", "n_positions", "n_layer", "n_head", "n_embd") if k not in hf
    ]
    if missing:
        raise UsageError(f"{cfg_file} lacks {', '.join(missing)}: not a GPT-2 config.")
    if hf.get("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh"):
        raise UsageError(
            f"unsupported activation {hf['activation_function']!r}: GPT-2 uses gelu_new."
        )
    from safetensors import SafetensorError

    try:
        sd = {k.removeprefix("transformer."): v for k, v in load_file(str(weights_file)).items()}
    except (SafetensorError, OSError) as e:
        raise UsageError(
            f"{weights_file} is damaged: it cannot be read as safetensors ({str(e).splitlines()[0]})."
        ) from None
    return hf, sd


def load_hf_gpt2(path: str | Path, dtype: torch.dtype = torch.float32) -> GPT:
    """Load a Hugging Face GPT-2 folder (``config.json`` + ``model.safetensors``) into our ``GPT``.

    Reads the weights with safetensors (never pickle). Two differences with Hugging Face's layout:
    its ``Conv1D`` layers store weights as ``(in, out)``, the transpose of ``nn.Linear``; and its
    ``c_attn`` is the query, key and value projections fused into one ``(C, 3C)`` matrix. The
    returned model is in eval mode.
    """
    from safetensors.torch import load_file

    path = Path(path)
    cfg_file, weights_file = path / "config.json", path / "model.safetensors"
    for f in (cfg_file, weights_file):
        if not f.is_file():
            raise FileNotFoundError(
                f"{f.name} not found in the GPT-2 folder {path.name!r}; a Hugging Face GPT-2 folder "
                "holds config.json and model.safetensors (save with safe_serialization=True)."
            )
    hf, sd = _read_hf_gpt2(path, cfg_file, weights_file, load_file)
    config = GPTConfig(
        vocab_size=hf["vocab_size"],
        block_size=hf["n_positions"],
        n_layer=hf["n_layer"],
        n_head=hf["n_head"],
        n_embd=hf["n_embd"],
        dropout=0.0,
        bias=True,
        gelu_approximate="tanh",
    )
    needed = ["wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"] + [
        f"h.{i}.{name}"
        for i in range(config.n_layer)
        for name in (
            "ln_1.weight",
            "attn.c_attn.weight",
            "attn.c_proj.weight",
            "mlp.c_fc.weight",
            "mlp.c_proj.weight",
        )
    ]
    lacking = [name for name in needed if name not in sd]
    if lacking:
        raise UsageError(
            f"The weights in {path} lack {lacking[0]} (and {len(lacking) - 1} more): "
            "not a GPT-2 checkpoint with this config.json."
        )
    C = config.n_embd
    ours: dict[str, torch.Tensor] = {
        "transformer.wte.weight": sd["wte.weight"],
        "transformer.wpe.weight": sd["wpe.weight"],
        "transformer.ln_f.weight": sd["ln_f.weight"],
        "transformer.ln_f.bias": sd["ln_f.bias"],
    }
    for i in range(config.n_layer):
        hf_p, p = f"h.{i}.", f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            ours[p + ln + ".weight"] = sd[hf_p + ln + ".weight"]
            ours[p + ln + ".bias"] = sd[hf_p + ln + ".bias"]
        w_qkv, b_qkv = (
            sd[hf_p + "attn.c_attn.weight"],
            sd[hf_p + "attn.c_attn.bias"],
        )  # (C, 3C), (3C,)
        for j, proj in enumerate(("q_proj", "k_proj", "v_proj")):
            ours[p + f"attn.{proj}.weight"] = w_qkv[:, j * C : (j + 1) * C].t()  # Conv1D -> Linear
            ours[p + f"attn.{proj}.bias"] = b_qkv[j * C : (j + 1) * C]
        pairs = (
            ("attn.c_proj", "attn.out_proj"),
            ("mlp.c_fc", "mlp.fc_in"),
            ("mlp.c_proj", "mlp.fc_out"),
        )
        for theirs, mine in pairs:
            ours[p + mine + ".weight"] = sd[hf_p + theirs + ".weight"].t()
            ours[p + mine + ".bias"] = sd[hf_p + theirs + ".bias"]
    with torch.device("meta"):
        model = GPT(config)
    # lm_head.weight is tied to wte.weight, so loading wte fills both
    model.load_state_dict(
        {k: v.to(dtype).contiguous() for k, v in ours.items()}, strict=False, assign=True
    )
    model.lm_head.weight = model.transformer.wte.weight  # re-tie after assign
    missing = [n for n, t in model.state_dict().items() if t.is_meta]
    if missing:
        raise ValueError(f"the checkpoint lacks weights for {missing[:5]}; is it a GPT-2 model?")
    return model.eval()
