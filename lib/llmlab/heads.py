"""Measuring what attention heads do (lesson 03, section "Naming heads by measuring them").

A head's attention weights over many passages are scored against simple key
patterns ("the previous character", "the first character", ...): the score is
the weight a query puts on the keys of that pattern, averaged over queries.
A head is *named* after the pattern it favours most, relative to the share that
attention spread evenly over the past would give that pattern.  Then
:func:`ablate_head` switches a head off, to test whether the model relies on it
(a pattern is not an explanation: Jain and Wallace 2019); :func:`ablation_losses` does it
for every head, and :func:`findings` turns the measurements into sentences, so a
lesson states what it measured from the numbers themselves.

Shapes: ``B`` passages, ``T`` characters each, ``L`` layers, ``H`` heads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from llmlab.attention import causal_mask
from llmlab.gpt import GPT

#: The patterns scored, in table order, and what each key set is.
PATTERNS: dict[str, str] = {
    "previous": "the character just before the query",
    "self": "the query itself",
    "first": "the first character of the passage",
    "word start": "the first letter of the current word (just after the latest space)",
    "same char": "earlier occurrences of the query's own character",
    "after same char": "characters that followed earlier occurrences of the query's character (induction)",
}


def pattern_keys(ids: torch.Tensor, space_id: int) -> dict[str, torch.Tensor]:
    """For token ids ``(B, T)``, each pattern's keys as a ``(B, T_query, T_key)`` bool tensor."""
    if ids.dim() != 2:
        raise ValueError(f"ids must be (B, T), got shape {tuple(ids.shape)}.")
    ids = ids.cpu()
    B, T = ids.shape
    i = torch.arange(T)[:, None]  # query position, as a column
    j = torch.arange(T)[None, :]  # key position, as a row
    earlier = j < i
    latest_space = torch.cummax(
        torch.where(ids == space_id, torch.arange(T), -1), dim=1
    ).values  # (B, T)
    word_start = torch.cat(
        [torch.zeros(B, 1, dtype=torch.long), latest_space[:, :-1] + 1], dim=1
    ).clamp(min=0)
    prev_ids = torch.cat(
        [torch.full((B, 1), -1), ids[:, :-1]], dim=1
    )  # the character before each key
    return {
        "previous": (j == i - 1).expand(B, T, T),
        "self": (j == i).expand(B, T, T),
        "first": (j == 0).expand(B, T, T),
        "word start": j[None] == word_start[:, :, None],
        "same char": earlier & (ids[:, None, :] == ids[:, :, None]),
        "after same char": earlier & (prev_ids[:, None, :] == ids[:, :, None]),
    }


def pattern_score(weights: torch.Tensor, keys: torch.Tensor, skip_first: int = 2) -> torch.Tensor:
    """Mean attention mass on ``keys``, over the queries that have at least one such key.

    Args:
        weights: ``(..., B, T, T)`` attention weights (rows sum to 1).
        keys: ``(B, T, T)`` bool, the keys of one pattern for each query.
        skip_first: leave out the first queries, which have almost no choice of keys.
    Returns:
        ``(...)``: one score per leading index (e.g. ``(L, H)``).
    """
    has_key = keys.any(-1).clone()  # (B, T)
    has_key[:, :skip_first] = False
    if not has_key.any():
        raise ValueError("No query has a key of this pattern; use longer passages.")
    mass = (weights * keys).sum(-1)  # (..., B, T)
    return (mass * has_key).sum((-2, -1)) / has_key.sum()


def score_heads(
    maps: torch.Tensor, ids: torch.Tensor, space_id: int
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Every head's score on every pattern, and each pattern's even share.

    Args:
        maps: ``(L, B, H, T, T)`` attention weights, as ``GPT.attention_maps`` returns them.
        ids: ``(B, T)`` the passages' token ids.
    Returns:
        ``(scores, even)``: ``scores[pattern]`` is ``(L, H)``; ``even[pattern]`` is the score of
        attention spread evenly over the past (causal) positions.
    """
    T = ids.shape[1]
    keys = pattern_keys(ids, space_id)
    per_head = maps.float().cpu().permute(0, 2, 1, 3, 4)  # (L, H, B, T, T)
    uniform = causal_mask(T).float() / torch.arange(1, T + 1)[:, None]  # (T, T)
    scores = {k: pattern_score(per_head, m) for k, m in keys.items()}
    even = {k: pattern_score(uniform, m).item() for k, m in keys.items()}
    return scores, even


def name_heads(
    scores: dict[str, torch.Tensor], even: dict[str, float], threshold: float = 0.3
) -> dict[tuple[int, int], str]:
    """``{(layer, head): name}``: the pattern with the largest score / even share among those
    where the head puts at least ``threshold`` of its weight, else ``"mixed"``."""
    L, H = next(iter(scores.values())).shape
    names = {}
    for layer in range(L):
        for head in range(H):
            s = {k: float(v[layer, head]) for k, v in scores.items()}
            strong = [k for k in s if s[k] >= threshold]
            best = max(strong, key=lambda k: s[k] / even[k]) if strong else None
            names[layer, head] = (
                f"{best} head".replace("previous", "previous-character") if best else "mixed"
            )
    return names


@contextlib.contextmanager
def ablate_head(model: GPT, layer: int, head: int) -> Iterator[None]:
    """Inside the ``with`` block, head ``head`` of block ``layer`` outputs zeros.

    Its slice of the input of ``out_proj`` (the concatenated head outputs) is zeroed,
    so the other heads and the residual stream run unchanged.
    """
    out_proj = model.get_submodule(f"transformer.h.{layer}.attn.out_proj")
    hs = model.config.n_embd // model.config.n_head
    if not 0 <= head < model.config.n_head:
        raise ValueError(f"head must be in 0..{model.config.n_head - 1}, got {head}.")

    def hook(module, args):
        z = args[0].clone()
        z[..., head * hs : (head + 1) * hs] = 0
        return (z,)

    handle = out_proj.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def ablation_losses(model: GPT, loss_fn: Callable[[], float]) -> torch.Tensor:
    """Loss change when each head alone is switched off: ``(L, H)``, ``loss_fn()`` minus its baseline.

    ``loss_fn`` evaluates the model (e.g. on held-out passages) and returns a float; it is
    called once with every head on, then once per head inside :func:`ablate_head`.
    """
    base = loss_fn()
    L, H = model.config.n_layer, model.config.n_head
    change = torch.zeros(L, H)
    for layer in range(L):
        for head in range(H):
            with ablate_head(model, layer, head):
                change[layer, head] = loss_fn() - base
    return change


def findings(
    scores: dict[str, torch.Tensor],
    even: dict[str, float],
    names: dict[tuple[int, int], str],
    loss_change: torch.Tensor,
    threshold: float = 0.3,
    small: float = 0.05,
) -> list[str]:
    """The measured story of a model's heads, as sentences computed from the numbers.

    Args:
        scores, even, names: as returned by :func:`score_heads` and :func:`name_heads`.
        loss_change: ``(L, H)`` from :func:`ablation_losses`.
        threshold: the weight a pattern needs to name a head (as in :func:`name_heads`).
        small: a loss change below this (nats per token) counts as "the model barely needs it".
    Returns:
        A list of sentences: which heads have a clear pattern, what the "mixed" heads do
        (their largest share on any one pattern), and which heads the model needs.
    """
    L, H = loss_change.shape
    named = [(lh, n) for lh, n in names.items() if n != "mixed"]
    mixed = [lh for lh, n in names.items() if n == "mixed"]
    stacked = torch.stack([scores[k] for k in scores])  # (P, L, H)
    lines = []
    if named:
        where = ", ".join(f"layer {lay} head {h} ({n})" for (lay, h), n in named)
        lines.append(
            f"{len(named)} of {L * H} heads put at least {threshold:.0%} of their weight on one pattern: {where}."
        )
    else:
        lines.append(f"No head puts {threshold:.0%} of its weight on any one pattern.")
    if mixed:
        top = max(float(stacked[:, lay, h].max()) for lay, h in mixed)
        lines.append(
            f"The other {len(mixed)} are 'mixed': no pattern gets {threshold:.0%} of their weight (the most any of them "
            f"puts on one pattern is {top:.0%}), so they spread their attention over several kinds of keys, "
            "or attend by something these six patterns do not describe."
        )
    flat = loss_change.flatten()
    order = flat.argsort(descending=True)
    l0, h0 = divmod(int(order[0]), H)
    needed = [(divmod(int(i), H)) for i in order if flat[i] >= small]
    lines.append(
        f"Switching one head off raises the held-out loss most for layer {l0} head {h0} "
        f"({names[l0, h0]}): {flat[order[0]]:+.3f} nats per character."
    )
    lines.append(
        f"{len(needed)} of {L * H} heads raise it by {small} or more when switched off"
        + (f" ({', '.join(f'layer {lay} head {h}' for lay, h in needed)})" if needed else "")
        + f"; the other {L * H - len(needed)} change it by less, so the model barely needs any one of them alone."
    )
    if needed:
        layers = sorted({lay for lay, _ in needed})
        lines.append(
            f"The heads it needs that much sit in layer{'s' if len(layers) > 1 else ''} "
            + ", ".join(map(str, layers))
            + f" of 0..{L - 1}."
        )
    named_needed = sum(1 for lh, _ in named if lh in needed)
    if named:
        lines.append(
            f"{named_needed} of the {len(named)} heads with a clear pattern are among those the model needs most."
        )
    return lines
