"""Text generation: one token at a time, greedy or sampled, with or without a KV cache (lesson 04).

A language model gives, at every step, a probability distribution over the next token. Generation
picks one token from it, appends it and repeats (autoregression):

* greedy (``temperature=0``): always the most likely token;
* temperature: sample from softmax(logits / T): T < 1 sharpens the distribution, T > 1 flattens it;
* top-k (Fan et al. 2018, https://arxiv.org/abs/1805.04833): sample only among the k most likely;
* top-p, nucleus sampling (Holtzman et al., "The Curious Case of Neural Text Degeneration",
  ICLR 2020, https://arxiv.org/abs/1904.09751, Section 3.1): sample only from the smallest set of
  tokens whose probabilities add up to at least p (paraphrased, not quoted).

The KV cache: without it each step runs the model over the whole sequence again; with it, each
step feeds only the newest token and reuses the keys and values of earlier positions, stored per
layer (``llmlab.attention.KVCache``). Both give the same tokens (tested).

The context is ``model.config.block_size`` tokens: a longer prompt, or a generation that runs past
it, is cropped to its last ``block_size`` tokens (the model has no position beyond that). Once the
cache is full it is rebuilt from the cropped context at each step, which is what generation without
a cache computes, so the outputs stay identical.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass

import torch

from llmlab.errors import UsageError, check_int, check_real
from llmlab.gpt import GPT

# ----------------------------------------------------------------------------------------------
# From logits to a distribution to a token


#: The smallest temperature above 0: logits / T overflows float32 below about 1e-37, and from
#: far above that on the distribution is already one-hot (greedy); 0 asks for greedy directly.
MIN_TEMPERATURE = 1e-6


def _check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    temperature = check_real("temperature", temperature, minimum=0)
    if 0 < temperature < MIN_TEMPERATURE:
        raise UsageError(
            f"temperature {temperature:g} is too close to 0 for floating point; use 0 for "
            f"greedy decoding (always the most likely token), or at least {MIN_TEMPERATURE:g}."
        )
    if top_k is not None:
        if isinstance(top_k, float) and top_k.is_integer():
            top_k = int(top_k)
        check_int("top_k (None for all tokens)", top_k, minimum=1)
    if top_p is not None:
        check_real("top_p (None for all tokens)", top_p, minimum=0, maximum=1, open_min=True)


def sampling_probs(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """The distribution a token is sampled from: logits ``(..., V)`` -> probabilities ``(..., V)``.

    Applies the temperature, then keeps the ``top_k`` most likely tokens, then the nucleus of
    probability mass ``top_p``, and renormalises. ``temperature=0`` puts all mass on the argmax.
    """
    _check_sampling(temperature, top_k, top_p)
    if not isinstance(logits, torch.Tensor):
        raise UsageError(f"logits must be a tensor (..., vocab_size), got {type(logits).__name__}.")
    logits = logits.float()
    if temperature == 0:  # greedy: a one-hot distribution on the most likely token
        return torch.zeros_like(logits).scatter_(-1, logits.argmax(-1, keepdim=True), 1.0)
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1) the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the more likely tokens
        drop_sorted = before >= top_p  # already reached p without this token: outside the nucleus
        drop = torch.zeros_like(drop_sorted).scatter_(-1, order, drop_sorted)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def _pick(probs: torch.Tensor, greedy: bool, generator: torch.Generator | None) -> torch.Tensor:
    """One token per row of ``probs (B, V)`` -> ``(B, 1)``."""
    if greedy:
        return probs.argmax(-1, keepdim=True)
    return torch.multinomial(probs, num_samples=1, generator=generator)


# ----------------------------------------------------------------------------------------------
# The generation loop


def _as_batch(idx, device: torch.device) -> tuple[torch.Tensor, str]:
    """Any prompt form -> ``(B, T)`` long tensor, plus how to give the result back."""
    if isinstance(idx, str):
        raise UsageError(
            "the prompt must be token ids, not text: encode it first, e.g. "
            "generate(model, tokenizer.encode(text), ...)."
        )
    if isinstance(idx, torch.Tensor):
        if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
            raise UsageError(
                f"the prompt must hold integer token ids, got a {idx.dtype} tensor; "
                "use torch.tensor(ids, dtype=torch.long)."
            )
        kind = "tensor1d" if idx.dim() == 1 else "tensor"
        batch = idx.view(1, -1) if idx.dim() == 1 else idx
    else:
        try:
            ids = list(idx)
        except TypeError:
            raise UsageError(
                f"the prompt must be token ids (a list of ints or a tensor), got {type(idx).__name__}."
            ) from None
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, numbers.Integral)]
        if bad:
            raise UsageError(
                f"the prompt must hold integer token ids, got {bad[0]!r} ({type(bad[0]).__name__})."
            )
        kind, batch = "list", torch.tensor([ids], dtype=torch.long)
    if batch.dim() != 2 or batch.size(1) == 0:
        raise ValueError(
            "the prompt must hold at least one token id: a list of ints, a 1-D tensor or a "
            f"(batch, seq_len) tensor; got shape {tuple(batch.shape)}."
        )
    return batch.to(device=device, dtype=torch.long), kind


def _decode_steps(model: GPT, idx: torch.Tensor, max_new_tokens: int, use_cache: bool):
    """Yield the logits ``(B, V)`` for the next token; the caller sends back the chosen ``(B, 1)``.

    Crops the context to the model's last ``block_size`` tokens.
    """
    bs = model.config.block_size
    cache = None
    for _ in range(max_new_tokens):
        if not use_cache:
            logits, _ = model(idx[:, -bs:])  # the whole (cropped) sequence, every step
        elif cache is None or len(cache[0]) >= bs:
            cache = model.new_kv_cache()  # (re)fill the cache from the cropped context
            logits, _ = model(idx[:, -bs:], kv_cache=cache)
        else:
            logits, _ = model(idx[:, -1:], kv_cache=cache)  # only the newest token
        nxt = yield logits[:, -1, :]  # (B, V)
        idx = torch.cat([idx, nxt], dim=1)  # (B, T + 1)


@dataclass
class GenerationTrace:
    """What happened at each generation step (see ``next_token_distributions``).

    prompt: the prompt ids; tokens: the generated ids, one per step; probs ``(steps, V)``: the
    distribution each token was drawn from (after temperature/top-k/top-p); model_probs
    ``(steps, V)``: the model's own distribution (softmax of the logits, temperature 1).
    """

    prompt: list[int]
    tokens: list[int]
    probs: torch.Tensor
    model_probs: torch.Tensor


@torch.no_grad()
def _run(model, idx, max_new_tokens, temperature, top_k, top_p, seed, use_cache, trace):
    _check_sampling(temperature, top_k, top_p)
    check_int("max_new_tokens", max_new_tokens, minimum=0)
    if seed is not None:
        check_int("seed (or None)", seed)
    if not isinstance(
        getattr(getattr(model, "config", None), "block_size", None), numbers.Integral
    ):
        raise UsageError(
            f"model must be an llmlab GPT (with a .config), got {type(model).__name__}."
        )
    batch, kind = _as_batch(idx, model.device)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=batch.device)
        generator.manual_seed(seed)
    was_training = model.training
    model.eval()  # no dropout while generating
    probs_seen, model_probs = [], []
    out = batch
    try:
        steps = _decode_steps(model, batch, max_new_tokens, use_cache)
        logits = next(steps, None)
        while logits is not None:
            probs = sampling_probs(logits, temperature, top_k, top_p)  # (B, V)
            nxt = _pick(probs, temperature == 0, generator)  # (B, 1)
            if trace:
                probs_seen.append(probs[0])
                model_probs.append(torch.softmax(logits[0].float(), -1))
            out = torch.cat([out, nxt], dim=1)
            try:
                logits = steps.send(nxt)
            except StopIteration:
                logits = None
    finally:
        model.train(was_training)
    if trace:
        V = model.config.vocab_size
        return GenerationTrace(
            prompt=batch[0].tolist(),
            tokens=out[0, batch.size(1) :].tolist(),
            probs=torch.stack(probs_seen).cpu() if probs_seen else torch.empty(0, V),
            model_probs=torch.stack(model_probs).cpu() if model_probs else torch.empty(0, V),
        )
    if kind == "list":
        return out[0].tolist()
    return out[0] if kind == "tensor1d" else out


def generate(
    model: GPT,
    idx,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    use_cache: bool = True,
):
    """Continue a prompt by ``max_new_tokens`` tokens; returns the prompt followed by the new tokens.

    idx: the prompt ids, as ``(B, T)`` or 1-D tensor, or a list of ints; the result has the same
    form (a list in, a list out). ``temperature=0`` is greedy decoding. ``seed`` makes sampling
    reproducible (a private ``torch.Generator``; None uses torch's global generator).
    ``use_cache`` switches the KV cache on (same tokens, faster). A prompt longer than the
    context is cropped to its last ``block_size`` tokens when fed to the model (it is returned
    whole).
    """
    return _run(model, idx, max_new_tokens, temperature, top_k, top_p, seed, use_cache, trace=False)


def next_token_distributions(
    model: GPT,
    prompt,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> GenerationTrace:
    """Generate like ``generate`` (first sequence only) and record each step's distribution.

    Same tokens as ``generate`` with the same arguments; for the step-by-step figure
    ``llmlab.plots.generation.next_token_figure``.
    """
    return _run(model, prompt, max_new_tokens, temperature, top_k, top_p, seed, True, trace=True)


# ----------------------------------------------------------------------------------------------
# Measuring the KV cache


def timed_generation(
    model: GPT, prompt, max_new_tokens: int, use_cache: bool = True, repeats: int = 1
):
    """Greedy generation, timed: ``(tokens, best wall seconds of repeats runs)``.

    ``tokens`` is what ``generate(model, prompt, max_new_tokens, temperature=0, use_cache=...)``
    returns (greedy decoding is deterministic, so every repeat gives the same tokens).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}.")
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = generate(model, prompt, max_new_tokens, temperature=0, use_cache=use_cache)
        best = min(best, time.perf_counter() - start)
    return out, best


def generation_speed(
    model: GPT, prompt, max_new_tokens: int, repeats: int = 3, use_cache: bool = True
) -> float:
    """Greedy generation speed in new tokens per second (best of ``repeats`` runs)."""
    return max_new_tokens / timed_generation(model, prompt, max_new_tokens, use_cache, repeats)[1]


def kv_cache_speedup(model: GPT, prompt, max_new_tokens: int, repeats: int = 3) -> dict[str, float]:
    """Tokens/s without and with the KV cache, their ratio, and whether both wrote the same tokens.

    Each path runs ``repeats`` times (best time kept); the same-output check compares the tokens of
    the timed runs, so nothing is generated twice just to check it.
    """
    out_without, s_without = timed_generation(model, prompt, max_new_tokens, False, repeats)
    out_with, s_with = timed_generation(model, prompt, max_new_tokens, True, repeats)
    same = out_without == out_with
    if isinstance(same, torch.Tensor):
        same = bool(same.all())
    return {
        "tokens_per_s_without_cache": max_new_tokens / s_without,
        "tokens_per_s_with_cache": max_new_tokens / s_with,
        "speedup": s_without / s_with,
        "seconds_without_cache": s_without,
        "seconds_with_cache": s_with,
        "same_output": same,
    }


@torch.no_grad()
def forward_seconds(model: GPT, n_tokens: int, repeats: int = 3, seed: int = 0) -> float:
    """Wall seconds of one forward pass over ``n_tokens`` positions (batch 1; best of ``repeats``).

    Why the cache helps some models more than others: without it, step t runs this over t positions;
    with it, over 1. The ratio ``forward_seconds(m, t) / forward_seconds(m, 1)`` is what the cache
    can save at step t: close to t for a model whose cost is its arithmetic, close to 1 for one so
    small that fixed per-call costs (Python, one kernel launch per operation) dominate.
    """
    if not 1 <= n_tokens <= model.config.block_size:
        raise ValueError(
            f"n_tokens must be in 1 .. {model.config.block_size} (the context), got {n_tokens}."
        )
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, model.config.vocab_size, (1, n_tokens), generator=g).to(model.device)
    was_training = model.training
    model.eval()
    model(idx)  # warm-up: first-call allocations are not part of the cost
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model(idx)
        best = min(best, time.perf_counter() - start)
    model.train(was_training)
    return best
