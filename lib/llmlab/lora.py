"""LoRA, written out: low-rank adapters on a frozen model (Hu et al. 2021; lesson 05).

Full fine-tuning updates every weight ``W`` of a pretrained model.  LoRA keeps
``W`` frozen and learns a low-rank *change* next to it.  In the paper's words
(Hu et al. 2021, arXiv:2106.09685, section 4.1):

    "For a pre-trained weight matrix W0 in R^{d x k}, we constrain its update by
    representing the latter with a low-rank decomposition W0 + dW = W0 + BA,
    where B in R^{d x r}, A in R^{r x k}, and the rank r << min(d, k). During
    training, W0 is frozen and does not receive gradient updates, while A and B
    contain trainable parameters. [...] We use a random Gaussian initialization
    for A and zero for B, so dW = BA is zero at the beginning of training. We
    then scale dW x by alpha / r, where alpha is a constant in r."

So a LoRA layer computes ``h = W0 x + (alpha / r) * B A x``.  Because ``B``
starts at zero, the adapted model starts out *equal* to the base model; and
because ``B A`` is just a matrix, it can be added into ``W0`` after training
(``merge_lora``), so the fine-tuned model costs nothing extra at inference.

Here ``A`` is initialised like the authors' reference code (``loralib``) and
Hugging Face PEFT do, with PyTorch's default Kaiming-uniform initialisation of
a linear layer (a random init; the paper says Gaussian: either works, what
matters is that ``B = 0``).

>>> from llmlab.lora import apply_lora, merge_lora, count_trainable
>>> apply_lora(model, r=8, alpha=16, targets=("q_proj", "v_proj"))
>>> count_trainable(model)        # only the adapters
>>> merge_lora(model)             # back to plain nn.Linear layers, W = W0 + (alpha/r) B A
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from llmlab.errors import UsageError, check_int, check_real

#: The attention projections Hu et al. adapt in most of their experiments
#: ("we only adapt the attention weights", section 4.2; Table 5 finds W_q and
#: W_v together the best use of a fixed budget).
DEFAULT_TARGETS: tuple[str, ...] = ("q_proj", "v_proj")

#: Every linear layer of an llmlab GPT block (attention and MLP).
ALL_LINEAR_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "out_proj", "fc_in", "fc_out")


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update ``(alpha / r) * B A``.

    Args:
        base: the pretrained layer, weight ``(out_features, in_features)``; it is frozen.
        r: the rank of the update (``A`` is ``(r, in_features)``, ``B`` is ``(out_features, r)``).
        alpha: the scale constant; the update is multiplied by ``alpha / r``.
        dropout: dropout on the adapter's input (Hu et al. use none for GPT-2's
            smallest runs; PEFT's default is 0).

    ``forward(x (..., in_features)) -> (..., out_features)``.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}.")
        if not isinstance(r, int) or r < 1:
            raise ValueError(f"The LoRA rank r must be a positive integer, got {r!r}.")
        if r > min(base.in_features, base.out_features):
            raise ValueError(
                f"Rank r={r} is larger than the layer itself ({base.out_features} x {base.in_features}): "
                "a low-rank update needs r <= min(out_features, in_features)."
            )
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.r = r
        self.alpha = float(alpha)
        self.scaling = self.alpha / r
        weight = base.weight
        self.lora_A = nn.Parameter(
            torch.empty(r, base.in_features, dtype=weight.dtype, device=weight.device)
        )
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_features, r, dtype=weight.dtype, device=weight.device)
        )
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as loralib / PEFT; B stays zero
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    @property
    def weight(self) -> torch.Tensor:
        """The frozen base weight ``W0`` (so code that reads ``layer.weight`` still works)."""
        return self.base.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base.bias

    def delta_weight(self) -> torch.Tensor:
        """The learned update ``(alpha / r) * B A``, shape ``(out_features, in_features)``."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def merged_weight(self) -> torch.Tensor:
        """``W0 + (alpha / r) * B A``: the one matrix a merged layer uses."""
        return self.base.weight + self.delta_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., in) -> base: (..., out); adapter: (..., in) @ A^T -> (..., r) @ B^T -> (..., out)
        return self.base(x) + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, r={self.r}, alpha={self.alpha:g}"


def _named_targets(
    model: nn.Module, targets: Iterable[str]
) -> list[tuple[nn.Module, str, nn.Module]]:
    """(parent, attribute name, child) for every submodule whose own name is in ``targets``."""
    wanted = set(targets)
    found = []
    for _parent_name, parent in model.named_modules():
        for name, child in parent.named_children():
            if name in wanted:
                found.append((parent, name, child))
    return found


def apply_lora(
    model: nn.Module,
    r: int = 8,
    alpha: float = 16.0,
    targets: Iterable[str] = DEFAULT_TARGETS,
    dropout: float = 0.0,
) -> nn.Module:
    """Freeze ``model`` and wrap every ``nn.Linear`` named in ``targets`` in a :class:`LoRALinear`.

    ``targets`` are module names as they appear in ``model.named_modules()``'s last
    component: for an llmlab GPT, any of ``q_proj, k_proj, v_proj, out_proj``
    (attention) and ``fc_in, fc_out`` (MLP).  Works in place and returns the model.
    Afterwards only the adapters' ``lora_A`` and ``lora_B`` are trainable.

    Every argument and every target is checked before anything changes: a bad call
    leaves the model exactly as it was (not frozen).
    """
    if not isinstance(model, nn.Module):
        raise UsageError(f"apply_lora needs a torch model (nn.Module), got {type(model).__name__}.")
    r = check_int("The LoRA rank r", r, minimum=1)
    alpha = check_real("alpha", alpha)
    dropout = check_real("dropout", dropout, minimum=0, maximum=1, open_max=True)
    targets = (
        (targets,) if isinstance(targets, str) else tuple(targets)
    )  # "q_proj" means one target
    if not targets or not all(isinstance(t, str) for t in targets):
        raise UsageError(f"targets must be layer names such as {DEFAULT_TARGETS}, got {targets!r}.")
    if any(isinstance(m, LoRALinear) for m in model.modules()):
        raise ValueError(
            "This model already has LoRA adapters; merge_lora(model) first, or start from a fresh copy."
        )
    found = _named_targets(model, targets)
    linear_names = sorted(
        {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    )
    absent = [t for t in targets if t not in {name for _, name, _ in found}]
    if absent:
        raise UsageError(
            f"No layer named {', '.join(map(repr, absent))} in the model; its linear layers are "
            f"called: {', '.join(linear_names)}."
        )
    linears: list[tuple[nn.Module, str, nn.Linear]] = []
    for parent, name, child in found:
        if not isinstance(child, nn.Linear):
            raise TypeError(f"LoRA target {name!r} is a {type(child).__name__}, not an nn.Linear.")
        if r > min(child.in_features, child.out_features):
            raise UsageError(
                f"Rank r={r} is larger than the layer {name!r} itself ({child.out_features} x {child.in_features}): "
                "a low-rank update needs r <= min(out_features, in_features)."
            )
        linears.append((parent, name, child))
    for p in model.parameters():
        p.requires_grad_(False)
    for parent, name, linear in linears:
        setattr(parent, name, LoRALinear(linear, r=r, alpha=alpha, dropout=dropout))
    return model


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """Every :class:`LoRALinear` of ``model``, by its qualified name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


@torch.no_grad()
def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` by a plain ``nn.Linear`` with weight ``W0 + (alpha/r) B A``.

    The merged model computes the same function (up to float rounding) with no
    extra cost at inference (Hu et al. 2021, section 4.1: "no additional
    inference latency").  Works in place and returns the model.  The merged
    layers are trainable again (``requires_grad=True``), like any fresh layer.
    """
    layers = lora_layers(model)
    if not layers:
        raise ValueError("This model has no LoRA adapters to merge (apply_lora adds them).")
    for name, layer in layers.items():
        parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
        base = layer.base
        merged = nn.Linear(
            base.in_features,
            base.out_features,
            bias=base.bias is not None,
            device=base.weight.device,
            dtype=base.weight.dtype,
        )
        merged.weight.copy_(layer.merged_weight())
        if base.bias is not None:
            merged.bias.copy_(base.bias)
        setattr(parent, name.rsplit(".", 1)[-1], merged)
    return model


def count_trainable(model: nn.Module) -> int:
    """Number of parameters that receive gradients (tied weights counted once)."""
    return sum(
        p.numel() for p in model.parameters() if p.requires_grad
    )  # parameters() skips duplicates


def count_total(model: nn.Module) -> int:
    """Number of parameters of the model, trainable or frozen (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters())
