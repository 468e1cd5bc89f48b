"""Checkers for the exercises of lesson 06 (model families and the LLM landscape).

Each prints "Correct! ..." or "Not yet: <hint>" and returns True or False; the
expected answers are computed from ``llmlab.objectives`` and the shipped
``data/models.csv``, never typed in here.
"""

from __future__ import annotations

from llmlab import landscape, objectives
from llmlab.exercises import run_check

#: Exercise 1: the family usually chosen for each task (issue 8's table; Devlin et al. 2018
#: for classification and tagging, Raffel et al. 2019 / Lewis et al. 2019 for text-to-text,
#: Radford et al. 2019 / Brown et al. 2020 for open-ended generation).
TASKS = {
    "sentiment of a product review": "encoder",
    "tag the people and places in a sentence (named entities)": "encoder",
    "translate English to German": "encoder-decoder",
    "summarise a news article": "encoder-decoder",
    "continue a story from its first line": "decoder",
}


def check_family_for_task(answer: dict) -> bool:
    """``answer`` maps each task of ``TASKS`` to "encoder", "encoder-decoder" or "decoder"."""

    def check(a):
        if not isinstance(a, dict):
            return False, "", "give a dict {task: family} with one entry per task in TASKS."
        missing = [t for t in TASKS if t not in a]
        if missing:
            return False, "", f"add an answer for: {missing[0]!r}."
        wrong = [t for t, fam in TASKS.items() if str(a[t]).strip().lower() != fam]
        if wrong:
            t = wrong[0]
            hint = {
                "encoder": "it reads a whole input and labels it: which family reads both directions?",
                "encoder-decoder": "it maps one text to another text: which family has both halves?",
                "decoder": "it writes new text left to right: which family was trained to do exactly that?",
            }
            return False, "", f"{len(wrong)} wrong; e.g. {t!r}: {hint[TASKS[t]]}"
        return True, "readers (encoders) label, encoder-decoders rewrite, decoders write on.", ""

    return run_check(answer, check)


def check_mlm_counts(answer, length: int = 512) -> bool:
    """``answer = (expected tokens predicted, expected [MASK] tokens)`` for one ``length``-token sequence."""
    chosen = length * objectives.MLM_PROBABILITY
    masked = chosen * objectives.MLM_MASK_FRACTION

    def check(a):
        n_chosen, n_masked = (float(v) for v in a)
        if abs(n_chosen - chosen) > 0.5:
            return (
                False,
                "",
                f"the loss covers the chosen tokens: {objectives.MLM_PROBABILITY:.0%} of {length}.",
            )
        if abs(n_masked - masked) > 0.5:
            return (
                False,
                "",
                "of the chosen tokens, only 80% become [MASK]; 10% are random and 10% kept.",
            )
        return (
            True,
            (
                f"{chosen:.1f} tokens are predicted, {masked:.2f} of them behind [MASK]: BERT learns from "
                f"{objectives.MLM_PROBABILITY:.0%} of positions, a GPT from all of them."
            ),
            "",
        )

    return run_check(answer, check)


#: Exercise 3: the sentence and the spans T5 drops (True = dropped), as in Raffel et al. 2019, figure 2.
SPAN_WORDS = "Thank you for inviting me to your party last week .".split()
SPAN_DROPPED = [False, False, True, True, False, False, False, False, True, False, False]


def check_span_corruption(answer) -> bool:
    """``answer = (input_words, target_words)`` with sentinels written "<X>", "<Y>", "<Z>"."""
    sentinels = ["<X>", "<Y>", "<Z>", "<W>"]
    vocab = SPAN_WORDS + sentinels
    ids = [vocab.index(w) for w in SPAN_WORDS]
    sentinel_ids = [vocab.index(s) for s in sentinels]
    inp, tgt = objectives.span_corrupt(ids, sentinel_ids, noise_mask=SPAN_DROPPED)
    want_in, want_tgt = [vocab[i] for i in inp], [vocab[i] for i in tgt]

    def check(a):
        got_in, got_tgt = (list(x) for x in a)
        if got_in != want_in:
            return (
                False,
                "",
                "input: keep every word that is not dropped, and put ONE sentinel where each dropped span was.",
            )
        if got_tgt != want_tgt:
            return (
                False,
                "",
                "target: each sentinel followed by the words it replaced, then one final sentinel.",
            )
        return True, f"input {' '.join(want_in)!r}, target {' '.join(want_tgt)!r}.", ""

    return run_check(answer, check)


#: Exercise 4: claims about real models; the truth is read from data/models.csv.
CLAIMS = {
    "GPT-2's context was 1024 tokens": lambda ms: (
        landscape.find(ms, "GPT-2 XL").context_tokens == 1024
    ),
    "GPT-3's context was 4096 tokens": lambda ms: (
        landscape.find(ms, "GPT-3").context_tokens == 4096
    ),
    "LLaMA 1 and Llama 2 have the same context length": lambda ms: (
        landscape.find(ms, "LLaMA-7B").context_tokens
        == landscape.find(ms, "Llama-2-7B").context_tokens
    ),
    "OpenAI published GPT-4's parameter count": lambda ms: (
        landscape.find(ms, "GPT-4").parameters is not None
    ),
    "BERT-Large has twice as many layers as BERT-Base": lambda ms: (
        landscape.find(ms, "BERT-Large").layers == 2 * (landscape.find(ms, "BERT-Base").layers or 0)
    ),
}


def check_claims(answer: dict) -> bool:
    """``answer`` maps each claim of ``CLAIMS`` to True or False."""
    models = landscape.load_models()
    truth = {c: bool(f(models)) for c, f in CLAIMS.items()}

    def check(a):
        missing = [c for c in CLAIMS if c not in a]
        if missing:
            return False, "", f"answer every claim; missing {missing[0]!r}."
        wrong = [c for c in CLAIMS if bool(a[c]) != truth[c]]
        if wrong:
            return (
                False,
                "",
                f"{len(wrong)} wrong; look up {wrong[0]!r} in the table (landscape.find).",
            )
        return True, "and each answer traces back to a primary source in data/models.csv.", ""

    return run_check(answer, check)
