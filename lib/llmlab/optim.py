"""Muon for the hidden weight matrices, AdamW for the rest: the optimizer of the CPU speedrun.

Muon ("MomentUm Orthogonalized by Newton-Schulz") takes SGD's momentum of a 2-D weight's gradient
and replaces it by the nearest semi-orthogonal matrix (same singular vectors, all singular values
about 1) before the step, so every direction of the update moves at the same rate instead of a few
dominant ones. Keller Jordan, "Muon: An optimizer for hidden layers in neural networks" (2024),
https://kellerjordan.github.io/posts/muon/, and its use in the modded-nanogpt speedrun,
https://github.com/KellerJordan/modded-nanogpt (the Newton-Schulz coefficients, Nesterov momentum 0.95
and the ``sqrt(max(1, rows / cols))`` scale below are theirs, from https://github.com/KellerJordan/Muon).

The write-up's rule for what gets Muon: only the hidden matrices (attention and MLP weights). The token
and position embeddings, the output head (tied to the token embedding here) and the 1-D gains and biases
stay with AdamW, as in modded-nanogpt.

    opt = build_optimizer(model, lr=1e-3, muon_lr=0.02, weight_decay=0.1)
    # each param group has an "lr_scale": the schedule sets group["lr"] = lr_at(step) * lr_scale
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Muon", "MuonWithAdamW", "build_optimizer", "newton_schulz", "is_hidden_matrix"]

#: The quintic iteration's coefficients (Keller Jordan's Muon): chosen to push every singular value
#: of a matrix with norm <= 1 towards 1 in 5 steps, fast rather than exactly.
NS_COEFFS = (3.4445, -4.7750, 2.0315)


def newton_schulz(
    g: torch.Tensor, steps: int = 5, eps: float = 1e-7, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Approximately orthogonalise ``g`` (rows, cols): about ``U V^T`` of its SVD ``U S V^T``.

    The quintic Newton-Schulz iteration ``X <- a X + b (X X^T) X + c (X X^T)^2 X`` after scaling
    ``X`` to Frobenius norm 1 (so every singular value is <= 1). Works on the short side: a tall matrix
    is transposed, so ``X X^T`` is the small ``(min, min)`` Gram matrix. Computed in ``dtype``: Keller
    Jordan's Muon runs it in bfloat16, which the iteration tolerates (it only needs singular values
    near 1, not exact ones). Whether bfloat16 is faster depends on the processor (AMX: much; AVX512-BF16
    alone, on small matrices: not always), so training times both (``llmlab.speedups``).
    A stack of matrices ``(n, rows, cols)`` is orthogonalised matrix by matrix, in one batched pass.
    Returns a tensor of ``g``'s shape whose singular values are all roughly 1 (0.7 to 1.2).
    """
    x = g.to(dtype)
    tall = x.size(-2) > x.size(-1)
    if tall:
        x = x.mT  # (cols, rows): rows >= cols
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + eps)
    a, b, c = NS_COEFFS
    for _ in range(steps):
        gram = x @ x.mT  # (short, short)
        x = a * x + (b * gram + c * gram @ gram) @ x
    if tall:
        x = x.mT
    return x.to(g.dtype)


class Muon(torch.optim.Optimizer):
    """SGD with Nesterov momentum whose update is orthogonalised by :func:`newton_schulz`.

    For each 2-D parameter ``W (rows, cols)``: ``m <- beta m + (1 - beta) g``; the update direction
    ``u = g + beta (m - g)`` (Nesterov) is orthogonalised and scaled by ``sqrt(max(1, rows / cols))``,
    then ``W <- W (1 - lr wd) - lr u``. Only for 2-D parameters. ``ns_dtype``: the precision of the
    Newton-Schulz iterations (torch.bfloat16 as in Keller Jordan's Muon, or torch.float32).
    """

    def __init__(
        self,
        params,
        lr=0.02,
        momentum=0.95,
        nesterov=True,
        ns_steps=5,
        weight_decay=0.0,
        ns_dtype=torch.float32,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            nesterov=nesterov,
            ns_steps=ns_steps,
            weight_decay=weight_decay,
            ns_dtype=ns_dtype,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2:
                    raise ValueError(
                        f"Muon updates 2-D matrices only, got a {p.dim()}-D parameter."
                    )

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta, lr = group["momentum"], group["lr"]
            # Momentum per matrix, then one batched Newton-Schulz per shape: on a CPU the course
            # model's 24 small matrices cost about half as much stacked as one by one.
            buckets: dict[tuple, list] = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad)
                buf = state["momentum_buffer"]
                buf.lerp_(p.grad, 1 - beta)  # m <- beta m + (1 - beta) g
                u = p.grad.lerp(buf, beta) if group["nesterov"] else buf
                tall = p.size(0) > p.size(1)
                buckets.setdefault((tuple(u.shape[::-1]) if tall else tuple(u.shape)), []).append(
                    (p, u.mT if tall else u, tall)
                )
            for items in buckets.values():
                stack = torch.stack([u for _, u, _ in items])
                ortho = newton_schulz(stack, group["ns_steps"], dtype=group["ns_dtype"])
                for (p, _, tall), o in zip(items, ortho, strict=True):
                    o = (o.mT if tall else o).to(p.dtype)  # back to p's shape and dtype
                    if group["weight_decay"]:
                        p.mul_(1 - lr * group["weight_decay"])
                    p.add_(o, alpha=-lr * max(1.0, p.size(0) / p.size(1)) ** 0.5)
        return loss


class MuonWithAdamW:
    """Two optimizers stepped as one: Muon for the hidden matrices, AdamW for everything else.

    Has what the training loop uses of an optimizer: ``param_groups`` (both optimizers' groups, each
    with an ``lr_scale``), ``zero_grad``, ``step``, ``state_dict`` / ``load_state_dict``.
    """

    def __init__(self, muon: Muon, adamw: torch.optim.AdamW):
        self.optimizers = (muon, adamw)

    @property
    def param_groups(self) -> list[dict]:
        return [g for opt in self.optimizers for g in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def state_dict(self) -> dict:
        return {"muon": self.optimizers[0].state_dict(), "adamw": self.optimizers[1].state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizers[0].load_state_dict(state["muon"])
        self.optimizers[1].load_state_dict(state["adamw"])


def is_hidden_matrix(name: str, p: torch.Tensor, model: nn.Module) -> bool:
    """A 2-D weight inside the blocks (attention and MLP matrices): not an embedding or the head."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    head = getattr(model, "lm_head", None)
    if head is not None:
        embeddings.add(id(head.weight))
    return p.dim() == 2 and id(p) not in embeddings


def build_optimizer(
    model: nn.Module,
    lr: float,
    muon_lr: float = 0.02,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.99),
    fused: bool = True,
    ns_bf16: bool = False,
) -> MuonWithAdamW:
    """Muon (``muon_lr``) on the hidden matrices; AdamW (``lr``) on embeddings/head (with weight decay)
    and 1-D gains and biases (without), nanoGPT's two decay groups.

    Every group gets ``lr_scale`` = its learning rate / ``lr``, so one schedule drives both.
    ``ns_bf16``: Muon's Newton-Schulz iterations in bfloat16 (else float32).
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    hidden = [p for n, p in named if is_hidden_matrix(n, p, model)]
    hidden_ids = {id(p) for p in hidden}
    rest = [p for n, p in named if id(p) not in hidden_ids]
    if not hidden:
        raise ValueError("build_optimizer found no hidden 2-D matrices for Muon in this model.")
    ns_dtype = torch.bfloat16 if ns_bf16 else torch.float32
    muon = Muon([{"params": hidden, "lr_scale": muon_lr / lr}], lr=muon_lr, ns_dtype=ns_dtype)
    adam_groups = [
        {
            "params": [p for p in rest if p.dim() >= 2],
            "weight_decay": weight_decay,
            "lr_scale": 1.0,
        },
        {"params": [p for p in rest if p.dim() < 2], "weight_decay": 0.0, "lr_scale": 1.0},
    ]
    fused = fused and all(p.device.type in ("cpu", "cuda", "mps") for p in rest)
    kernel = {"fused": True} if fused else {"foreach": True}
    adamw = torch.optim.AdamW(adam_groups, lr=lr, betas=betas, **kernel)
    return MuonWithAdamW(muon, adamw)
