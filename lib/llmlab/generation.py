"""Text generation: one token at a time, greedy or sampled, with or without a KV cache (lesson 04).

Lessons 05 (greedy answers of the fine-tuned models) and 07 (the LLaMA-style model) use it too.

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
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from llmlab.attention import KVCache
from llmlab.errors import UsageError, check_int, check_real
from llmlab.gpt import GPT
from llmlab.llama import Llama
from llmlab.measure import time_call

#: What generates: the GPT of lesson 04 or the LLaMA-style model of lesson 07 (same interface).
LanguageModel = GPT | Llama

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
        if isinstance(top_k, float) and float(top_k).is_integer():
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


# ----------------------------------------------------------------------------------------------
# The generation loop


def as_prompt(
    idx: torch.Tensor | Sequence[int], device: torch.device | str = "cpu"
) -> torch.Tensor:
    """A prompt as a ``(B, T)`` long tensor: a list of ids or a 1-D tensor is one prompt (B = 1)."""
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
        batch = torch.tensor([ids], dtype=torch.long)
    if batch.dim() != 2 or batch.size(1) == 0:
        raise ValueError(
            "the prompt must hold at least one token id: a list of ints, a 1-D tensor or a "
            f"(batch, seq_len) tensor; got shape {tuple(batch.shape)}."
        )
    return batch.to(device=device, dtype=torch.long)


def next_logits(
    model: LanguageModel, idx: torch.Tensor, cache: list[KVCache] | None
) -> tuple[torch.Tensor, list[KVCache] | None]:
    """The logits ``(B, V)`` of the token after ``idx (B, T)``, and the cache for the next step.

    Without a cache (None) the model reads the whole context, cropped to its last ``block_size``
    tokens. With one, it reads only the newest token and the stored keys/values; an empty or full
    cache is (re)filled from the cropped context, which is what no cache computes.
    """
    bs = model.config.block_size
    if cache is None:
        return model(idx[:, -bs:])[0][:, -1], None  # the whole (cropped) sequence, every step
    if len(cache[0]) == 0 or len(cache[0]) >= bs:
        cache = model.new_kv_cache()
        return model(idx[:, -bs:], kv_cache=cache)[0][:, -1], cache
    return model(idx[:, -1:], kv_cache=cache)[0][:, -1], cache  # only the newest token


def _check_generate(model, max_new_tokens: int, seed: int | None) -> torch.Generator | None:
    check_int("max_new_tokens", max_new_tokens, minimum=0)
    if not isinstance(
        getattr(getattr(model, "config", None), "block_size", None), numbers.Integral
    ):
        raise UsageError(
            f"model must be an llmlab GPT (with a .config), got {type(model).__name__}."
        )
    if seed is None:
        return None
    check_int("seed (or None)", seed)
    return torch.Generator(device=model.device).manual_seed(seed)


@torch.no_grad()
def generate(
    model: LanguageModel,
    idx: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Continue a prompt by ``max_new_tokens`` tokens: ``(B, T)`` -> ``(B, T + max_new_tokens)``.

    idx: the prompt ids, a ``(B, T)`` tensor, or one prompt as a list of ints or a 1-D tensor
    (then B = 1). The result is always a ``(B, T + max_new_tokens)`` tensor: the prompt followed
    by the new tokens; ``tokenizer.decode(out[0])`` is the text. ``temperature=0`` is greedy
    decoding, the library's one greedy decoder. ``seed`` makes sampling reproducible (a private
    ``torch.Generator``; None uses torch's global one). ``use_cache`` switches the KV cache on:
    the same tokens, faster. The model sees at most its last ``block_size`` tokens.
    """
    _check_sampling(temperature, top_k, top_p)
    generator = _check_generate(model, max_new_tokens, seed)
    idx = as_prompt(idx, model.device)  # (B, T)
    was_training = model.training
    model.eval()  # no dropout while generating
    cache = model.new_kv_cache() if use_cache else None
    try:
        for _ in range(max_new_tokens):
            logits, cache = next_logits(model, idx, cache)  # (B, V)
            probs = sampling_probs(logits, temperature, top_k, top_p)  # (B, V)
            if temperature == 0:
                nxt = probs.argmax(-1, keepdim=True)  # (B, 1)
            else:
                nxt = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)  # (B, T + 1)
    finally:
        model.train(was_training)
    return idx


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
def next_token_distributions(
    model: LanguageModel,
    prompt: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> GenerationTrace:
    """Generate like ``generate`` (first sequence only) and record each step's distribution.

    The tokens are ``generate``'s with the same arguments; the distributions are recomputed by
    feeding those tokens back through the same steps (``next_logits`` with a KV cache), for the
    step-by-step figure ``llmlab.plots.generation.next_token_figure``.
    """
    out = generate(model, prompt, max_new_tokens, temperature, top_k, top_p, seed)[:1]  # (1, T + n)
    T = out.size(1) - max_new_tokens
    was_training = model.training
    model.eval()
    cache: list[KVCache] | None = model.new_kv_cache()
    probs, model_probs = [], []
    try:
        for t in range(T, out.size(1)):
            logits, cache = next_logits(model, out[:, :t], cache)  # (1, V)
            probs.append(sampling_probs(logits[0], temperature, top_k, top_p))
            model_probs.append(torch.softmax(logits[0].float(), -1))
    finally:
        model.train(was_training)
    V = model.config.vocab_size
    return GenerationTrace(
        prompt=out[0, :T].tolist(),
        tokens=out[0, T:].tolist(),
        probs=torch.stack(probs).cpu() if probs else torch.empty(0, V),
        model_probs=torch.stack(model_probs).cpu() if model_probs else torch.empty(0, V),
    )


# ----------------------------------------------------------------------------------------------
# Measuring the KV cache


def timed_generation(
    model: LanguageModel,
    prompt: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    use_cache: bool = True,
    repeats: int = 1,
) -> tuple[torch.Tensor, float]:
    """Greedy generation, timed: ``(tokens, best wall seconds of repeats runs)``.

    ``tokens`` is what ``generate(model, prompt, max_new_tokens, temperature=0, use_cache=...)``
    returns (greedy decoding is deterministic, so every repeat gives the same tokens).
    """
    outputs: list[torch.Tensor] = []

    def run() -> None:
        outputs.append(generate(model, prompt, max_new_tokens, temperature=0, use_cache=use_cache))

    seconds = time_call(run, repeats=repeats, warmup=0)
    return outputs[-1], seconds


def generation_speed(
    model: LanguageModel, prompt, max_new_tokens: int, repeats: int = 3, use_cache: bool = True
) -> float:
    """Greedy generation speed in new tokens per second (best of ``repeats`` runs)."""
    return max_new_tokens / timed_generation(model, prompt, max_new_tokens, use_cache, repeats)[1]


def kv_cache_speedup(
    model: LanguageModel, prompt, max_new_tokens: int, repeats: int = 3
) -> dict[str, float]:
    """Tokens/s without and with the KV cache, their ratio, and whether both wrote the same tokens.

    Each path runs ``repeats`` times (best time kept); the same-output check compares the tokens of
    the timed runs, so nothing is generated twice just to check it.
    """
    out_without, s_without = timed_generation(model, prompt, max_new_tokens, False, repeats)
    out_with, s_with = timed_generation(model, prompt, max_new_tokens, True, repeats)
    same = torch.equal(out_without, out_with)
    return {
        "tokens_per_s_without_cache": max_new_tokens / s_without,
        "tokens_per_s_with_cache": max_new_tokens / s_with,
        "speedup": s_without / s_with,
        "seconds_without_cache": s_without,
        "seconds_with_cache": s_with,
        "same_output": same,
    }


@torch.no_grad()
def forward_seconds(model: LanguageModel, n_tokens: int, repeats: int = 3, seed: int = 0) -> float:
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
    # the warm-up call keeps first-call allocations out of the cost
    seconds = time_call(lambda: model(idx), repeats=repeats, warmup=1)
    model.train(was_training)
    return seconds
