"""Memory arithmetic of LLMs: training states, LoRA adapters, the KV cache (lessons 03, 05, 07, 08).

The course's one table of LLaMA 2 shapes (:data:`LLAMA2`) and every count made
from a model's shape live here: parameters, LoRA adapter parameters, the bytes
of fine-tuning (lesson 05), of the KV cache (lesson 03; lesson 07 adds the
weights' formats in ``llmlab.inference``) and, via ``llmlab.distributed``, of
ZeRO's shards (lesson 08).

What fine-tuning costs in memory: weights, gradients and optimizer states.

Training with AdamW (Loshchilov and Hutter 2019) keeps, for every *trainable*
parameter, the parameter itself, its gradient and two optimizer states (the
running mean and the running mean of squares of the gradient).  Frozen
parameters only need their weights.  So the "model states" of a training run are

    weights   = (all parameters)       x bytes per weight
    gradients = (trainable parameters) x bytes per gradient
    optimizer = (trainable parameters) x 2 states x bytes per state

Activations (which grow with batch size and sequence length) come on top and are
not counted here.

Two precisions (bytes per trainable parameter):

* fp32 everywhere: 4 (weight) + 4 (gradient) + 4 + 4 (Adam states) = 16 bytes.
* mixed precision with Adam, as accounted by Rajbhandari et al. 2020 (ZeRO,
  arXiv:1910.02054, section 3.1): "2Ψ + 2Ψ + KΨ = 16Ψ bytes" for fp16
  parameters and gradients plus K = 12 bytes of optimizer states per parameter
  (an fp32 master copy of the weights, momentum and variance, 4 bytes each).
  Mixed precision saves compute and activation memory, not model-state memory.

Two parameter-efficient ways (Hu et al. 2021, LoRA; Dettmers et al. 2023, QLoRA):

* LoRA: the base model is frozen in 16 bits (2 bytes/parameter, no gradient,
  no optimizer state); only the adapters are trained (16 bytes each, as above).
* QLoRA (Dettmers et al. 2023, arXiv:2305.14314): the frozen base is stored in
  4-bit NormalFloat (0.5 bytes/parameter) plus its quantisation constants, which
  double quantisation brings to "8/64 + 32/(64 * 256) = 0.127 bits per
  parameter" (section 3); the adapters are trained as in LoRA.

:func:`training_memory` computes the model states of an llmlab model from its
parameters; :func:`measured_memory` adds up what PyTorch has really allocated
after an optimizer step, so the two can be compared.  :data:`LLAMA2` holds the
published architectures of LLaMA 2 7B, 13B and 70B, and :func:`scale_table`
applies the same arithmetic to them.

The KV cache.  While generating, a decoder caches the keys and values of every
earlier token in every layer: ``2 (K and V) x n_layers x n_kv_heads x head_dim x
bytes per value`` per token (:func:`kv_cache_bytes_per_token`).  Grouped-query
attention (GQA, Ainslie et al. 2023, arXiv:2305.13245) shrinks it by sharing each
key/value head among several query heads; :func:`kv_cache_table` computes it for
LLaMA 2 7B and 70B.  Llama 2 uses GQA in its 34B and 70B models, context 4k
(Touvron et al. 2023b, arXiv:2307.09288, Table 1 and Appendix A.2.1: "a
grouped-query attention variant with 8 KV projections"); the layer counts, widths
and head counts are those of the LLaMA architecture (Touvron et al. 2023a,
arXiv:2302.13971, Table 2), which Llama 2 keeps (2023b, Section 2.2), as in the
configurations Meta released with the weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

#: AdamW keeps two states per parameter: exp_avg (m) and exp_avg_sq (v).
ADAM_STATES = 2

GB = 1e9  # decimal gigabytes, as GPU memory is quoted (80 GB A100)


# ---------------------------------------------------------------- our model
@dataclass(frozen=True)
class Memory:
    """Model-state memory of one training set-up, in bytes."""

    label: str
    params_total: int
    params_trainable: int
    weights: int
    gradients: int
    optimizer: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer

    def row(self, unit: float = 1e6, unit_name: str = "MB") -> dict[str, object]:
        """A table row: parameters, then each part of the memory in ``unit_name``."""
        return {
            "set-up": self.label,
            "parameters": self.params_total,
            "trainable": self.params_trainable,
            f"weights ({unit_name})": self.weights / unit,
            f"gradients ({unit_name})": self.gradients / unit,
            f"optimizer ({unit_name})": self.optimizer / unit,
            f"total ({unit_name})": self.total / unit,
        }


def training_memory(
    model: nn.Module, label: str = "", optimizer_states: int = ADAM_STATES
) -> Memory:
    """Model-state bytes of training ``model`` with AdamW, computed from its parameters.

    Every parameter needs its weight (``numel x element_size``; a tied weight
    such as the GPT's ``wte``/``lm_head`` counts once); every trainable one
    also a gradient of the same size and ``optimizer_states`` Adam states of
    the same size.  PyTorch's AdamW also keeps its step counter as a one-element
    float32 tensor per parameter tensor (4 bytes each), counted in ``optimizer``.
    """
    params = list(model.parameters())  # parameters() lists a shared tensor once
    trainable = [p for p in params if p.requires_grad]
    weights = sum(p.numel() * p.element_size() for p in params)
    grads = sum(p.numel() * p.element_size() for p in trainable)
    step_counters = 4 * len(trainable)  # torch.optim.AdamW: state["step"] = tensor(0.0), float32
    optimizer = optimizer_states * grads + step_counters
    return Memory(
        label=label,
        params_total=sum(p.numel() for p in params),
        params_trainable=sum(p.numel() for p in trainable),
        weights=weights,
        gradients=grads,
        optimizer=optimizer,
    )


def _storage_bytes(tensors) -> int:
    """Bytes of the distinct storages behind ``tensors`` (a storage shared by views counts once)."""
    seen: dict[int, int] = {}
    for t in tensors:
        if isinstance(t, torch.Tensor):
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def measured_memory(model: nn.Module, optimizer: torch.optim.Optimizer, label: str = "") -> Memory:
    """What PyTorch has actually allocated for parameters, gradients and optimizer state.

    Adds up ``untyped_storage().nbytes()`` of every distinct storage behind the
    model's parameters, their ``.grad`` tensors and the tensors in
    ``optimizer.state`` (call it after at least one ``optimizer.step()``, when
    the states exist).  This is an independent check of :func:`training_memory`.
    """
    params = list(model.parameters())
    states = [t for state in optimizer.state.values() for t in state.values()]
    if not states:
        raise ValueError(
            "The optimizer has no state yet: run one optimizer.step() before measuring."
        )
    grads = [p.grad for p in params if p.grad is not None]
    return Memory(
        label=label,
        params_total=sum(p.numel() for p in params),
        params_trainable=sum(p.numel() for p in params if p.requires_grad),
        weights=_storage_bytes(params),
        gradients=_storage_bytes(grads),
        optimizer=_storage_bytes(states),
    )


# ---------------------------------------------------------------- real scale
@dataclass(frozen=True)
class LlamaShape:
    """A published LLaMA-style model's layer sizes, for arithmetic (RMSNorm, SwiGLU MLP, untied head, no biases).

    Not a model you can build: ``llmlab.llama.LlamaConfig`` is the runnable model's configuration.
    """

    name: str
    n_layer: int
    d_model: int
    n_head: int
    n_kv_head: int  # grouped-query attention when < n_head (LLaMA 2 70B)
    d_ff: int  # SwiGLU hidden size
    vocab_size: int
    published_params: (
        int  # the exact count, from the layer sizes (papers and cards say only "7B" etc.)
    )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(out_features, in_features) of each linear layer of one block, by its name in the HF code."""
        d, kv = self.d_model, self.n_kv_head * self.head_dim
        return {
            "q_proj": (d, d),
            "k_proj": (kv, d),
            "v_proj": (kv, d),
            "o_proj": (d, d),
            "gate_proj": (self.d_ff, d),
            "up_proj": (self.d_ff, d),
            "down_proj": (d, self.d_ff),
        }


#: LLaMA 2 (Touvron et al. 2023b, arXiv:2307.09288, Table 1: 7B, 13B, 70B; grouped-query
#: attention for 70B).  Layer sizes from the config.json of Meta's model cards
#: (huggingface.co/meta-llama/Llama-2-7b-hf, -13b-hf, -70b-hf).  The paper and the cards
#: give only rounded sizes ("7B", "13B", "70B"); the exact counts here are the arithmetic of
#: parameter_count() on those layer sizes (6.74B, 13.0B, 69.0B), which the tests check.
LLAMA2: dict[str, LlamaShape] = {
    "LLaMA 2 7B": LlamaShape("LLaMA 2 7B", 32, 4096, 32, 32, 11008, 32000, 6_738_415_616),
    "LLaMA 2 13B": LlamaShape("LLaMA 2 13B", 40, 5120, 40, 40, 13824, 32000, 13_015_864_320),
    "LLaMA 2 70B": LlamaShape("LLaMA 2 70B", 80, 8192, 64, 8, 28672, 32000, 68_976_648_192),
}


def parameter_count(cfg: LlamaShape) -> int:
    """Parameters of a LLaMA-style model from its layer sizes.

    Token embedding and output head (not tied): ``2 V d``; per block the seven
    linear layers (no biases) and two RMSNorm weight vectors; one final RMSNorm.
    """
    per_block = sum(o * i for o, i in cfg.linear_shapes().values()) + 2 * cfg.d_model
    return 2 * cfg.vocab_size * cfg.d_model + cfg.n_layer * per_block + cfg.d_model


def lora_parameter_count(shapes: Iterable[tuple[int, int]], r: int) -> int:
    """Adapter parameters for linear layers of the given ``(out_features, in_features)`` shapes.

    LoRA (Hu et al. 2021, arXiv:2106.09685, section 4.1) adds ``B (d x r)`` and
    ``A (r x k)`` beside a frozen ``W_0 (d x k)``: ``r (d + k)`` parameters per layer.
    """
    return sum(r * (out_f + in_f) for out_f, in_f in shapes)


def lora_parameter_count_llama(cfg: LlamaShape, r: int = 16, targets=("q_proj", "v_proj")) -> int:
    """LoRA adapter parameters on ``targets`` in every block of a LLaMA-style model."""
    shapes = cfg.linear_shapes()
    unknown = set(targets) - set(shapes)
    if unknown:
        raise ValueError(
            f"Unknown LLaMA layer(s) {sorted(unknown)}; choose from {', '.join(shapes)}."
        )
    return cfg.n_layer * lora_parameter_count((shapes[t] for t in targets), r)


#: Bytes per parameter of each part, for trainable parameters: (weight, gradient, optimizer).
FP32_ADAM = (4, 4, 4 * ADAM_STATES)  # 16 bytes
MIXED_ADAM = (2, 2, 12)  # 16 bytes: ZeRO section 3.1 (fp16 weight and grad; fp32 master, m, v)
#: Bits per frozen parameter in QLoRA: 4-bit NF4 plus double-quantised constants (Dettmers et al. 2023).
QLORA_BITS = 4 + 8 / 64 + 32 / (64 * 256)


def scale_table(
    models: dict[str, LlamaShape] | None = None, r: int = 16, targets=("q_proj", "v_proj")
) -> list[Memory]:
    """Model-state memory of fine-tuning each model four ways (bytes, model states only).

    * full fine-tuning, fp32 AdamW: 16 bytes per parameter;
    * full fine-tuning, mixed-precision AdamW: 2 + 2 + 12 = 16 bytes per parameter (ZeRO, section 3.1);
    * LoRA on ``targets`` with rank ``r``: frozen 16-bit base (2 bytes per parameter),
      adapters trained in mixed precision (16 bytes each);
    * QLoRA: frozen 4-bit NF4 base with double-quantised constants (:data:`QLORA_BITS`
      per parameter), the same adapters.
    """
    rows = []
    for name, cfg in (models or LLAMA2).items():
        n = cfg.published_params
        lora = lora_parameter_count_llama(cfg, r=r, targets=targets)
        w, g, o = FP32_ADAM
        rows.append(Memory(f"{name}: full, fp32", n, n, w * n, g * n, o * n))
        w, g, o = MIXED_ADAM
        rows.append(Memory(f"{name}: full, mixed precision", n, n, w * n, g * n, o * n))
        rows.append(
            Memory(
                f"{name}: LoRA r={r}, 16-bit base",
                n + lora,
                lora,
                2 * n + w * lora,
                g * lora,
                o * lora,
            )
        )
        base_4bit = round(n * QLORA_BITS / 8)
        rows.append(
            Memory(
                f"{name}: QLoRA r={r}, 4-bit base",
                n + lora,
                lora,
                base_4bit + w * lora,
                g * lora,
                o * lora,
            )
        )
    return rows


# ---------------------------------------------------------------- the KV cache


#: LLaMA 2 7B: standard multi-head attention, 32 KV heads (no GQA, Touvron et al. 2023b, Table 1);
#: 32 layers, 32 heads, width 4096 (Touvron et al. 2023a, Table 2; Meta's Llama-2-7b-hf config).
LLAMA2_7B: LlamaShape = LLAMA2["LLaMA 2 7B"]
#: LLaMA 2 70B: grouped-query attention with 8 KV heads (Touvron et al. 2023b, Table 1 and
#: Appendix A.2.1); 80 layers, 64 heads, width 8192 (Meta's Llama-2-70b-hf config).
LLAMA2_70B: LlamaShape = LLAMA2["LLaMA 2 70B"]


def kv_cache_bytes_per_token(
    n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_value: int = 2
) -> int:
    """Bytes of KV cache one token adds: ``2 (K and V) x n_layers x n_kv_heads x head_dim x bytes_per_value``.

    ``bytes_per_value`` is 2 for 16-bit floats (fp16/bf16, how LLaMA 2 is served),
    4 for float32.
    """
    for name, value in [
        ("n_layers", n_layers),
        ("n_kv_heads", n_kv_heads),
        ("head_dim", head_dim),
        ("bytes_per_value", bytes_per_value),
    ]:
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return 2 * n_layers * n_kv_heads * head_dim * bytes_per_value


@dataclass(frozen=True)
class KVCacheRow:
    """The KV cache of one model with one choice of key/value heads."""

    model: str
    attention: str  #: "MHA", "GQA-8", "MQA"
    n_kv_heads: int
    published: bool  #: True for the variant the model actually uses
    bytes_per_token: int
    context_len: int
    bytes_per_sequence: int  #: bytes_per_token x context_len


def _attention_name(n_kv_heads: int, n_heads: int) -> str:
    if n_kv_heads == n_heads:
        return "MHA"
    if n_kv_heads == 1:
        return "MQA"
    return f"GQA-{n_kv_heads}"


def kv_cache_table(
    models: Sequence[LlamaShape] = (LLAMA2_7B, LLAMA2_70B),
    kv_heads: Sequence[int | None] = (None, 8, 1),
    context_len: int = 4096,
    bytes_per_value: int = 2,
) -> list[KVCacheRow]:
    """KV cache per token and per full context for each model, with each number of KV heads.

    ``kv_heads`` lists the variants to compute: ``None`` means one KV head per
    query head (MHA, "without GQA"), 8 is LLaMA 2 70B's GQA, 1 is multi-query
    attention.  The published variant of each model is always included and flagged.
    ``context_len`` defaults to LLaMA 2's 4096 tokens (Touvron et al. 2023b, Table 1).
    """
    rows = []
    for m in models:
        variants = [m.n_head if k is None else int(k) for k in kv_heads]
        if m.n_kv_head not in variants:
            variants.append(m.n_kv_head)
        for n_kv in sorted(set(variants), reverse=True):
            if n_kv < 1 or m.n_head % n_kv:
                raise ValueError(
                    f"{m.name}: {m.n_head} query heads cannot be split into {n_kv} KV groups"
                )
            per_token = kv_cache_bytes_per_token(m.n_layer, n_kv, m.head_dim, bytes_per_value)
            rows.append(
                KVCacheRow(
                    model=m.name,
                    attention=_attention_name(n_kv, m.n_head),
                    n_kv_heads=n_kv,
                    published=n_kv == m.n_kv_head,
                    bytes_per_token=per_token,
                    context_len=context_len,
                    bytes_per_sequence=per_token * context_len,
                )
            )
    return rows
