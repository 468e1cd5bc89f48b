"""The three pre-training objectives of the transformer families, and their attention masks (lesson 06).

One transformer, three ways to train it:

========================  =====================  ======================================
family                    objective              attention mask
========================  =====================  ======================================
encoder-only (BERT)       masked LM              bidirectional: every token sees all
encoder-decoder (T5)      span corruption        encoder bidirectional; decoder causal
                                                 plus cross-attention to the encoder
decoder-only (GPT)        causal LM              causal: a token sees itself and the left
========================  =====================  ======================================

Each objective turns a token sequence into an ``(input, target)`` pair, with a
seed, and each pair gives the original sequence back exactly (``*_reconstruct``).
Targets use ``IGNORE_INDEX`` (-100) where there is nothing to predict, the value
``llmlab.gpt.GPT`` and ``torch.nn.functional.cross_entropy`` skip.

Sources:

* Devlin et al. 2018, "BERT", https://arxiv.org/abs/1810.04805, section 3.1:
  "we mask 15% of all WordPiece tokens in each sequence at random ... If the
  i-th token is chosen, we replace the i-th token with (1) the [MASK] token 80%
  of the time (2) a random token 10% of the time (3) the unchanged i-th token
  10% of the time."
* Raffel et al. 2019, "T5", https://arxiv.org/abs/1910.10683, section 3.1.4:
  "we randomly sample and then drop out 15% of tokens in the input sequence.
  All consecutive spans of dropped-out tokens are replaced by a single sentinel
  token ... The target then corresponds to all of the dropped-out spans of
  tokens, delimited by the same sentinel tokens used in the input sequence plus
  a final sentinel token"; section 3.3.4 settles on a mean span length of 3.
* Radford et al. 2018 (GPT), 2019 (GPT-2): maximise
  ``sum_i log P(u_i | u_{i-k}, ..., u_{i-1})``, i.e. predict the next token.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import torch

from llmlab.configs import FAMILY_GPT, FAMILY_TRAIN, GPTShape
from llmlab.gpt import IGNORE_INDEX  # "no prediction here": skipped by the loss

#: BERT's masking rates (Devlin et al. 2018, section 3.1).
MLM_PROBABILITY = 0.15
MLM_MASK_FRACTION = 0.8  # of the chosen tokens: replaced by [MASK]
MLM_RANDOM_FRACTION = 0.1  # of the chosen tokens: replaced by a random token (the rest: kept)

#: T5's span corruption (Raffel et al. 2019, sections 3.1.4 and 3.3.4).
SPAN_NOISE_DENSITY = 0.15
SPAN_MEAN_LENGTH = 3.0


class Pair(NamedTuple):
    """An ``(input, target)`` pair of 1-D (or, for MLM and CLM, any-shape) LongTensors."""

    input: torch.Tensor
    target: torch.Tensor


def _as_long(tokens, name: str = "tokens") -> torch.Tensor:
    """A LongTensor from a list/array/tensor of token ids, with a clear error otherwise."""
    if isinstance(tokens, torch.Tensor):
        if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer token ids, got dtype {tokens.dtype}.")
        return tokens.long()
    try:
        out = torch.as_tensor(list(tokens), dtype=torch.long)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a sequence of integer token ids (e.g. tokenizer.encode(text)), "
            f"got {type(tokens).__name__}."
        ) from exc
    return out


def _generator(seed: int | None, generator: torch.Generator | None) -> torch.Generator:
    if generator is not None:
        return generator
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


# --------------------------------------------------------------------------------------
# Masked language modelling (BERT)
# --------------------------------------------------------------------------------------


def mlm_mask(
    tokens,
    mask_id: int,
    vocab_size: int,
    *,
    mask_prob: float = MLM_PROBABILITY,
    special_ids: Sequence[int] = (),
    seed: int | None = 0,
    generator: torch.Generator | None = None,
) -> Pair:
    """BERT's masked-LM corruption of ``tokens`` (any shape, e.g. ``(T,)`` or a batch ``(B, T)``).

    Each position (except ``special_ids`` and ``mask_id`` itself) is *chosen*
    with probability ``mask_prob``; a chosen token becomes ``mask_id`` 80% of the
    time, a uniformly random ordinary token 10% of the time (which, as in BERT,
    may by chance be the original), and stays unchanged 10% of the time.

    Returns ``Pair(input, target)``, both shaped like ``tokens``: ``target`` holds
    the original token at chosen positions and ``IGNORE_INDEX`` elsewhere, so the
    loss is computed only where the model had to guess.  Pass ``generator`` to
    draw from a running stream (training); otherwise ``seed`` fixes the draw.
    """
    x = _as_long(tokens)
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be a probability in [0, 1], got {mask_prob}.")
    if not 0 <= mask_id < vocab_size:
        raise ValueError(
            f"mask_id {mask_id} is outside the vocabulary (0..{vocab_size - 1}); add a [MASK] token first."
        )
    if x.numel() and (x.min() < 0 or x.max() >= vocab_size):
        raise ValueError(f"tokens must lie in 0..{vocab_size - 1} (vocab_size={vocab_size}).")
    g = _generator(seed, generator)
    protected = torch.tensor(sorted(set(special_ids) | {mask_id}), dtype=torch.long)
    ordinary = torch.tensor(
        [i for i in range(vocab_size) if i not in set(protected.tolist())], dtype=torch.long
    )

    chosen = torch.rand(x.shape, generator=g) < mask_prob
    chosen &= ~torch.isin(x, protected)
    action = torch.rand(x.shape, generator=g)  # one uniform per position decides its fate
    to_mask = chosen & (action < MLM_MASK_FRACTION)
    to_random = (
        chosen & (action >= MLM_MASK_FRACTION) & (action < MLM_MASK_FRACTION + MLM_RANDOM_FRACTION)
    )
    random_tokens = ordinary[torch.randint(len(ordinary), x.shape, generator=g)]

    inp = torch.where(to_mask, torch.full_like(x, mask_id), x)
    inp = torch.where(to_random, random_tokens, inp)
    target = torch.where(chosen, x, torch.full_like(x, IGNORE_INDEX))
    return Pair(inp, target)


def mlm_reconstruct(inp, target) -> torch.Tensor:
    """The original tokens from an MLM pair: the target where it is set, the input elsewhere."""
    inp, target = _as_long(inp, "inp"), _as_long(target, "target")
    if inp.shape != target.shape:
        raise ValueError(
            f"input and target must have the same shape, got {tuple(inp.shape)} and {tuple(target.shape)}."
        )
    return torch.where(target != IGNORE_INDEX, target, inp)


def mlm_kinds(inp, target, mask_id: int) -> list[str]:
    """What happened at each position of a 1-D MLM pair: "mask", "random", "kept" or "" (not chosen)."""
    inp, target = _as_long(inp, "inp"), _as_long(target, "target")
    kinds = []
    for i, t in zip(inp.tolist(), target.tolist(), strict=True):
        if t == IGNORE_INDEX:
            kinds.append("")
        elif i == mask_id:
            kinds.append("mask")
        elif i == t:
            kinds.append("kept")
        else:
            kinds.append("random")
    return kinds


# --------------------------------------------------------------------------------------
# Span corruption (T5)
# --------------------------------------------------------------------------------------


def _random_segmentation(num_items: int, num_segments: int, g: torch.Generator) -> list[int]:
    """Split ``num_items`` into ``num_segments`` random positive lengths (as T5's ``_random_segmentation``)."""
    if num_segments == 1:
        return [num_items]
    cuts = torch.randperm(num_items - 1, generator=g)[: num_segments - 1] + 1
    edges = [0, *sorted(cuts.tolist()), num_items]
    return [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]


def span_noise_mask(
    length: int,
    *,
    noise_density: float = SPAN_NOISE_DENSITY,
    mean_span_length: float = SPAN_MEAN_LENGTH,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A ``(length,)`` bool mask of the tokens T5 drops, in spans (True = dropped).

    As in T5's ``random_spans_noise_mask``: exactly ``round(length * noise_density)``
    noise tokens (at least 1) in ``round(noise / mean_span_length)`` spans (at least 1);
    the noise and the kept tokens are each cut into that many random pieces and
    interleaved, kept first, so spans never touch, the sequence starts with a kept token
    and (a quirk of T5's code, kept here) ends with a dropped span.
    """
    if length < 2:
        raise ValueError(f"span corruption needs at least 2 tokens, got {length}.")
    if not 0.0 < noise_density < 1.0:
        raise ValueError(f"noise_density must be in (0, 1), got {noise_density}.")
    if mean_span_length < 1:
        raise ValueError(f"mean_span_length must be >= 1, got {mean_span_length}.")
    g = _generator(seed, generator)
    num_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    num_spans = max(int(round(num_noise / mean_span_length)), 1)
    num_spans = min(num_spans, num_noise, length - num_noise)
    noise_lengths = _random_segmentation(num_noise, num_spans, g)
    kept_lengths = _random_segmentation(length - num_noise, num_spans, g)
    mask = torch.zeros(length, dtype=torch.bool)
    pos = 0
    for kept, noise in zip(kept_lengths, noise_lengths, strict=True):
        pos += kept
        mask[pos : pos + noise] = True
        pos += noise
    return mask


def span_corrupt(
    tokens,
    sentinel_ids: Sequence[int],
    *,
    noise_density: float = SPAN_NOISE_DENSITY,
    mean_span_length: float = SPAN_MEAN_LENGTH,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
    noise_mask=None,
) -> Pair:
    """T5's span corruption of a 1-D token sequence.

    The input keeps the un-dropped tokens and puts ``sentinel_ids[k]`` where the
    k-th dropped span was; the target lists each span after its sentinel, then
    one final sentinel (Raffel et al. 2019, figure 2: input "Thank you <X> me to
    your party <Y> week.", target "<X> for inviting <Y> last <Z>").

    ``sentinel_ids`` are ids reserved for this (T5 uses the last 100 ids of its
    vocabulary, ``<extra_id_0>`` ...); there must be one more than the number of spans.
    ``noise_mask`` (bool, same length, True = dropped) replaces the random draw of
    ``span_noise_mask``, to corrupt chosen spans.
    """
    x = _as_long(tokens)
    if x.dim() != 1:
        raise ValueError(
            f"span_corrupt works on one sequence (1-D), got shape {tuple(x.shape)}; loop over a batch."
        )
    sentinels = list(sentinel_ids)
    if set(sentinels) & set(x.tolist()):
        raise ValueError(
            "the sequence already contains a sentinel id; reserve ids the text never uses."
        )
    if noise_mask is None:
        noise = span_noise_mask(
            len(x),
            noise_density=noise_density,
            mean_span_length=mean_span_length,
            seed=seed,
            generator=generator,
        )
    else:
        noise = torch.as_tensor(noise_mask, dtype=torch.bool)
        if noise.shape != x.shape:
            raise ValueError(
                f"noise_mask has shape {tuple(noise.shape)}, the tokens {tuple(x.shape)}."
            )
    starts = noise & ~torch.cat([torch.tensor([False]), noise[:-1]])  # first token of each span
    num_spans = int(starts.sum())
    if len(sentinels) < num_spans + 1:
        raise ValueError(
            f"{num_spans} spans need {num_spans + 1} sentinel ids, got {len(sentinels)}."
        )
    inp, target = [], []
    k = -1
    for tok, is_noise, is_start in zip(x.tolist(), noise.tolist(), starts.tolist(), strict=True):
        if is_start:
            k += 1
            inp.append(sentinels[k])
            target.append(sentinels[k])
        if is_noise:
            target.append(tok)
        else:
            inp.append(tok)
    target.append(sentinels[num_spans])
    return Pair(torch.tensor(inp, dtype=torch.long), torch.tensor(target, dtype=torch.long))


def span_reconstruct(inp, target, sentinel_ids: Sequence[int]) -> torch.Tensor:
    """The original sequence from a span-corruption pair: put each target span back at its sentinel."""
    inp, target = _as_long(inp, "inp").tolist(), _as_long(target, "target").tolist()
    sentinels = set(sentinel_ids)
    spans: dict[int, list[int]] = {}
    current = None
    for tok in target:
        if tok in sentinels:
            current = tok
            spans[current] = []
        elif current is None:
            raise ValueError("the target must start with a sentinel id.")
        else:
            spans[current].append(tok)
    out: list[int] = []
    for tok in inp:
        if tok in sentinels:
            if tok not in spans:
                raise ValueError(f"sentinel {tok} is in the input but not in the target.")
            out.extend(spans[tok])
        else:
            out.append(tok)
    return torch.tensor(out, dtype=torch.long)


# --------------------------------------------------------------------------------------
# Causal language modelling (GPT)
# --------------------------------------------------------------------------------------


def causal_lm_pair(tokens) -> Pair:
    """GPT's objective: the input is ``tokens[..., :-1]``, the target ``tokens[..., 1:]`` (shift by one).

    Position t of the target is the token that follows input position t; with a
    causal mask the model sees only ``input[..., :t+1]`` when it predicts it.
    """
    x = _as_long(tokens)
    if x.dim() == 0 or x.shape[-1] < 2:
        raise ValueError(
            "causal LM needs at least 2 tokens: the input is all but the last, the target all but the first."
        )
    return Pair(x[..., :-1], x[..., 1:])


def causal_lm_reconstruct(inp, target) -> torch.Tensor:
    """The original tokens from a causal-LM pair: the input plus the last target token."""
    inp, target = _as_long(inp, "inp"), _as_long(target, "target")
    if inp.shape != target.shape or not torch.equal(inp[..., 1:], target[..., :-1]):
        raise ValueError("not a causal-LM pair: the target must be the input shifted left by one.")
    return torch.cat([inp, target[..., -1:]], dim=-1)


# --------------------------------------------------------------------------------------
# Attention masks of the three families (True = may attend; queries on rows, keys on columns)
# --------------------------------------------------------------------------------------


def bidirectional_mask(T: int) -> torch.Tensor:
    """``(T, T)`` all True: an encoder token attends to every token, left and right."""
    return torch.ones(T, T, dtype=torch.bool)


def family_masks(n_source: int, n_target: int | None = None) -> dict[str, torch.Tensor]:
    """The attention masks of each family, ``True`` = may attend (rows: queries, columns: keys).

    Returns a dict with
    ``"encoder-only"`` ``(S, S)`` bidirectional; ``"decoder-only"`` ``(S, S)`` causal;
    and for the encoder-decoder, ``"encoder self-attention"`` ``(S, S)`` bidirectional,
    ``"decoder self-attention"`` ``(T, T)`` causal and ``"decoder cross-attention"``
    ``(T, S)`` all True (every decoder position reads every encoder position).
    """
    from llmlab.attention import causal_mask

    n_target = n_source if n_target is None else n_target
    if n_source < 1 or n_target < 1:
        raise ValueError("sequence lengths must be at least 1.")
    return {
        "encoder-only": bidirectional_mask(n_source),
        "decoder-only": causal_mask(n_source),
        "encoder self-attention": bidirectional_mask(n_source),
        "decoder self-attention": causal_mask(n_target),
        "decoder cross-attention": torch.ones(n_target, n_source, dtype=torch.bool),
    }


# --------------------------------------------------------------------------------------
# Training batches and the encoder-vs-decoder comparison (lesson 06)
# --------------------------------------------------------------------------------------


class MaskedLMStream:
    """Batches for masked-LM training: random windows of a token stream, BERT-masked.

    ``sample(split, batch_size, generator)`` returns ``(x, y)``, both ``(B, T)``:
    ``x`` the corrupted window, ``y`` the original token at the ~15% chosen
    positions and ``IGNORE_INDEX`` elsewhere.  It plugs into
    ``llmlab.training.train`` like ``llmlab.training.TokenStream`` (whose windows
    it reuses), so the same loop trains a BERT-style encoder.
    """

    def __init__(
        self,
        train_ids,
        val_ids,
        block_size: int,
        mask_id: int,
        vocab_size: int,
        mask_prob: float = MLM_PROBABILITY,
    ):
        from llmlab.training import TokenStream

        self.windows = TokenStream(train_ids, val_ids, block_size)
        self.block_size = self.windows.block_size
        self.mask_id, self.vocab_size, self.mask_prob = (
            int(mask_id),
            int(vocab_size),
            float(mask_prob),
        )

    def sample(self, split: str, batch_size: int, generator: torch.Generator | None = None):
        """``(x, y)``: two ``(batch_size, block_size)`` long tensors."""
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        window, _ = self.windows.sample(split, batch_size, g)  # (B, T)
        return mlm_mask(
            window, self.mask_id, self.vocab_size, mask_prob=self.mask_prob, generator=g
        )


def heldout_windows(ids, length: int, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` random windows of ``length`` tokens from ``ids``, as an ``(n, length)`` LongTensor."""
    ids = _as_long(ids, "ids").flatten()
    if len(ids) <= length:
        raise ValueError(f"need more than {length} tokens, got {len(ids)}.")
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(len(ids) - length, (n,), generator=g)  # (n,)
    return torch.stack([ids[s : s + length] for s in starts.tolist()])  # (n, length)


@torch.no_grad()
def predict_blank(
    model, windows: torch.Tensor, position: int, mask_id: int, batch_size: int = 256
) -> torch.Tensor:
    """Logits ``(N, V)`` for the token at ``position`` of each window, the way each family can.

    A bidirectional model (``model.config.causal`` False) gets the whole window
    with ``mask_id`` at ``position``: it reads both sides.  A causal model gets
    ``windows[:, :position]`` and predicts the next token: it can only read the
    left side.  With ``position = T - 1`` both see exactly the same left context,
    which measures next-token prediction.
    """
    if not 1 <= position < windows.shape[1]:
        raise ValueError(
            f"position must be in 1..{windows.shape[1] - 1} (a causal model needs a left context)."
        )
    causal = getattr(model.config, "causal", True)
    model.eval()
    out = []
    for chunk in windows.split(batch_size):
        if causal:
            logits, _ = model(chunk[:, :position])  # (b, position, V)
            out.append(logits[:, -1])
        else:
            x = chunk.clone()
            x[:, position] = mask_id
            logits, _ = model(x)  # (b, T, V)
            out.append(logits[:, position])
    return torch.cat(out)  # (N, V)


def blank_scores(logits: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Cross-entropy (nats) and top-1 accuracy of ``logits (N, V)`` against ``truth (N,)``."""
    loss = torch.nn.functional.cross_entropy(logits.float(), truth).item()
    acc = (logits.argmax(-1) == truth).float().mean().item()
    return {"loss": loss, "accuracy": acc}


def compare_on_tasks(models: dict, windows: torch.Tensor, mask_id: int) -> list[dict]:
    """Score each model on "fill the middle blank" and "predict the next token".

    ``models`` maps a label to a ``llmlab.gpt.GPT`` (encoder or decoder);
    ``windows`` is ``(N, T)`` held-out text.  Returns rows
    ``{"task", "model", "sees", "loss", "accuracy"}``.
    """
    T = windows.shape[1]
    tasks = {"fill the middle blank": T // 2, "predict the next token": T - 1}
    rows = []
    for task, pos in tasks.items():
        for label, model in models.items():
            causal = getattr(model.config, "causal", True)
            sees = "left context only" if causal or pos == T - 1 else "both sides"
            scores = blank_scores(predict_blank(model, windows, pos, mask_id), windows[:, pos])
            rows.append({"task": task, "model": label, "sees": sees, **scores})
    return rows


@torch.no_grad()
def fill_blanks(model, ids, blank_positions: Sequence[int], mask_id: int) -> list[int]:
    """Fill the blanks of one sequence ``ids`` and return the completed ids.

    An encoder masks every blank at once, then fills them one at a time, most
    confident first, re-reading the sequence after each fill (both sides are
    used).  A decoder fills them left to right, each from the text to its left.
    ``mask_id`` is never produced.
    """
    x = _as_long(ids).clone()
    todo = sorted(set(int(p) for p in blank_positions))
    if not todo:
        return x.tolist()
    if todo[0] < 1 or todo[-1] >= len(x):
        raise ValueError(f"blank positions must be in 1..{len(x) - 1}.")
    model.eval()
    if getattr(model.config, "causal", True):
        for p in todo:
            logits, _ = model(x[None, :p])
            logits[0, -1, mask_id] = float("-inf")
            x[p] = logits[0, -1].argmax()
        return x.tolist()
    x[todo] = mask_id
    while todo:
        logits, _ = model(x[None])  # (1, T, V)
        probs = logits[0, todo].softmax(-1)  # (n_blanks, V)
        probs[:, mask_id] = 0.0
        best, token = probs.max(-1)
        k = int(best.argmax())
        x[todo[k]] = token[k]
        todo.pop(k)
    return x.tolist()


@torch.no_grad()
def greedy_continue(model, ids, n_new: int, mask_id: int) -> list[int]:
    """Append ``n_new`` tokens to ``ids``, each the most likely one, the way each family can.

    A decoder predicts the next token from the text so far: greedy decoding,
    ``llmlab.generation.generate`` with ``temperature=0``.  An encoder has no "next"
    position: we append a ``mask_id`` and ask it to fill that blank, with nothing
    to its right, which is not what masked-LM training taught it; it never writes
    ``mask_id``.  The context is cropped to the model's ``block_size``.
    """
    from llmlab.generation import generate

    x = _as_long(ids).tolist()
    if getattr(model.config, "causal", True):
        return generate(model, x, int(n_new), temperature=0)[0].tolist()
    block = model.config.block_size
    model.eval()
    for _ in range(int(n_new)):
        logits, _ = model(torch.tensor([[*x[-(block - 1) :], mask_id]]))  # (1, T, V)
        last = logits[0, -1]
        last[mask_id] = float("-inf")
        x.append(int(last.argmax()))
    return x


# --------------------------------------------------------------------------------------
# The shipped encoder/decoder pair of lesson 06 (scripts/train_family_models.py)
# --------------------------------------------------------------------------------------

#: Share of characters the encoder must predict (BERT: 0.15; Wettig et al. 2023 find 0.4 better).
FAMILY_MLM_RATE = 0.4
#: Folder of each shipped model inside the course data folder.
FAMILY_SHIPPED = {"encoder": "family-encoder", "decoder": "family-decoder"}


def family_train_config(max_iters: int = FAMILY_TRAIN.max_iters, device: str = "cpu"):
    """The pair's recipe (``llmlab.configs.FAMILY_TRAIN``) cut to ``max_iters`` steps, 6 evaluations."""
    return dataclasses.replace(
        FAMILY_TRAIN, max_iters=max_iters, eval_interval=max(1, max_iters // 6), device=str(device)
    )


def family_pair(vocab_size: int, seed: int = 0, block_size: int = FAMILY_GPT["block_size"]):
    """``(encoder, decoder)``: two :class:`llmlab.gpt.GPT` of ``llmlab.configs.FAMILY_GPT``'s shape with the same initial weights.

    ``vocab_size`` counts the ``[MASK]`` token.  The only difference is the attention mask
    (``causal=False`` for the encoder).  ``block_size`` changes the window length (lesson 06's exercise).
    """
    from llmlab.gpt import GPT, GPTConfig

    shape: GPTShape = {**FAMILY_GPT, "block_size": block_size}
    models = []
    for causal in (False, True):
        torch.manual_seed(seed)
        models.append(GPT(GPTConfig(vocab_size=vocab_size, **shape, causal=causal)))
    return models[0], models[1]


def family_batches(
    train_ids,
    val_ids,
    mask_id: int,
    vocab_size: int,
    mlm_rate: float = FAMILY_MLM_RATE,
    block_size: int = FAMILY_GPT["block_size"],
):
    """``{"encoder": masked-LM windows, "decoder": next-token windows}`` of ``block_size`` tokens."""
    from llmlab.training import TokenStream

    block = block_size
    return {
        "encoder": MaskedLMStream(
            train_ids, val_ids, block, mask_id=mask_id, vocab_size=vocab_size, mask_prob=mlm_rate
        ),
        "decoder": TokenStream(train_ids, val_ids, block),
    }


def load_family_model(name: str, device="cpu"):
    """The shipped ``"encoder"`` or ``"decoder"`` of lesson 06, as a :class:`llmlab.training.Checkpoint`.

    Its ``meta`` holds ``mask_id``; its curves are in ``llmlab.model_card.read_train_log(family_dir(name))``.
    """
    from llmlab.training import load_checkpoint

    return load_checkpoint(family_dir(name), device=device)


def family_dir(name: str):
    """``data/<FAMILY_SHIPPED[name]>``, with a clear error for an unknown name."""
    from llmlab.paths import data_dir

    if name not in FAMILY_SHIPPED:
        raise ValueError(
            f"Unknown model {name!r}; the shipped ones are {', '.join(FAMILY_SHIPPED)}."
        )
    return data_dir() / FAMILY_SHIPPED[name]
