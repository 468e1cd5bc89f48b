"""Live explorers of the course GPT: type your own prompt and watch the model read it (ipywidgets).

Lessons 00 and 04 (the whole model), 02 (positional encoding), 03 (one head) and 05 (answers).

- :func:`model_explorer`: the whole forward pass for a prompt, in data-flow order: tokens -> token and
  position embeddings -> one head's attention (heatmap and lines) -> what each block adds to the
  residual stream -> final logits -> the sampler's distribution (temperature, then top-k, then top-p,
  the order of ``llmlab.generation.sampling_probs``) -> a "next token" button that samples, appends
  and updates everything.
- :func:`attention_walkthrough`: one head step by step, X -> Q, K, V -> QKᵀ -> ÷√d_k -> mask ->
  softmax -> weights·V, a query selector highlighting that row in every stage.
- :func:`sampling_explorer`: temperature / top-k / top-p sliders regenerating text from a prompt, each
  character coloured by the probability it was drawn with.
- :func:`positional_explorer`: the sinusoidal table for any ``d_model``, number of positions and position.
- :func:`compare_answers`: the greedy answers of several models (pretrained, fine-tuned) side by side.

How they show: each explorer is an object; displaying it (last line of a cell) shows its controls,
with an ``Output`` area under them, and then a plain plotly figure (or table) for the input it was
created with. A change of a control recomputes the figure and draws it in the ``Output`` area, so

* a saved notebook keeps an ordinary figure for the default input, readable with no kernel (GitHub,
  an offline page), while the live figure sits right under the controls;
* only the basic widgets (Text, sliders, Button, HTML, Output, HBox/VBox, ``observe``) are used,
  which work the same in ipywidgets 7 (Colab) and 8 (JupyterLab 4). (Replacing the first figure in
  place with ``update_display_data`` does not work from a widget's callback: JupyterLab routes such
  updates only while the cell that made the display is still running.)

Bad input (characters the model has no id for, an empty prompt, a prompt longer than the context) is
reported on one line above the figure, which keeps its last good state; no exception reaches the
notebook. The numbers computed for a figure are kept in ``explorer.shown`` (tests read them there).
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from llmlab import positional
from llmlab.attention import causal_mask
from llmlab.generation import next_token_distributions, sampling_probs
from llmlab.gpt import GPT
from llmlab.plots import explorer as figures
from llmlab.plots.attention import display_token

# ----------------------------------------------------------------------------------------------
# The numbers: one forward pass, recorded


@dataclass
class ForwardTrace:
    """Everything one forward pass computes for a prompt of T tokens (batch of one).

    tok_emb, pos_emb ``(T, C)``: rows of the token and position tables; ln1[l] ``(T, C)``: the input
    of layer l's attention (after its LayerNorm); attn_out[l], mlp_out[l] ``(T, C)``: what layer l's
    attention and MLP add to the residual stream; maps ``(n_layer, n_head, T, T)``: attention
    weights; logits ``(T, V)``.
    """

    ids: list[int]
    tokens: list[str]
    tok_emb: torch.Tensor
    pos_emb: torch.Tensor
    ln1: list[torch.Tensor]
    attn_out: list[torch.Tensor]
    mlp_out: list[torch.Tensor]
    maps: torch.Tensor
    logits: torch.Tensor

    def residual_adds(self) -> tuple[list[str], torch.Tensor]:
        """Names and sizes (L2 norm per token) of each addition to the residual stream: ``(1 + 2 n_layer, T)``."""
        names, rows = ["embedding (tok + pos)"], [(self.tok_emb + self.pos_emb).norm(dim=-1)]
        for layer, (a, m) in enumerate(zip(self.attn_out, self.mlp_out, strict=True)):
            names += [f"layer {layer} attention", f"layer {layer} MLP"]
            rows += [a.norm(dim=-1), m.norm(dim=-1)]
        return names, torch.stack(rows)


@torch.no_grad()
def trace_forward(model: GPT, tokenizer, ids: list[int]) -> ForwardTrace:
    """Run ``model`` (an ``llmlab.gpt.GPT``) on one prompt and record each step with forward hooks."""
    was_training = model.training
    model.eval()
    tr = model.transformer
    seen: dict[str, list] = {"tok": [], "pos": [], "ln1": [], "attn": [], "mlp": [], "final": []}

    def keep(name, first=lambda out: out[0]):
        return lambda module, inputs, out: seen[name].append(first(out))

    hooks = [
        tr.wte.register_forward_hook(keep("tok")),
        tr.wpe.register_forward_hook(keep("pos", lambda o: o)),
        tr.ln_f.register_forward_hook(keep("final")),
    ]
    for block in tr.blocks():
        hooks += [
            block.ln_1.register_forward_hook(keep("ln1")),
            block.attn.register_forward_hook(keep("attn")),
            block.mlp.register_forward_hook(keep("mlp")),
        ]
    try:
        idx = torch.tensor([ids], dtype=torch.long, device=model.lm_head.weight.device)  # (1, T)
        model(idx)  # the hooks record every step
        logits = model.lm_head(seen["final"][0])  # (T, V)
    finally:
        for h in hooks:
            h.remove()
    maps = model.attention_maps(idx)[:, 0]  # (n_layer, n_head, T, T)
    model.train(was_training)
    cpu = lambda t: t.detach().float().cpu()  # noqa: E731
    return ForwardTrace(
        ids=list(ids),
        tokens=[tokenizer.decode([i]) for i in ids],
        tok_emb=cpu(seen["tok"][0]),
        pos_emb=cpu(seen["pos"][0]),
        ln1=[cpu(t) for t in seen["ln1"]],
        attn_out=[cpu(t) for t in seen["attn"]],
        mlp_out=[cpu(t) for t in seen["mlp"]],
        maps=cpu(maps),
        logits=cpu(logits),
    )


@torch.no_grad()
def head_steps(model: GPT, trace: ForwardTrace, layer: int, head: int) -> dict[str, torch.Tensor]:
    """Scaled dot-product attention of one head, each intermediate kept (Vaswani et al. 2017, eq. 1).

    Returns ``X (T, C)``, ``Q``, ``K``, ``V (T, d_k)``, ``QK^T``, ``scaled``, ``masked``, ``weights
    (T, T)`` and ``out (T, d_k)``. The projections are the layer's own modules (LoRA-wrapped ones too).
    """
    attn = model.transformer.blocks()[layer].attn
    hs = attn.head_size
    kv_head = head // (
        attn.n_heads // attn.n_kv_heads
    )  # grouped-query: the key/value head this head reads
    dev = attn.q_proj.weight.device
    x = trace.ln1[layer].to(dev)  # (T, C)
    q = attn.q_proj(x)[:, head * hs : (head + 1) * hs]  # (T, d_k)
    k = attn.k_proj(x)[:, kv_head * hs : (kv_head + 1) * hs]  # (T, d_k)
    v = attn.v_proj(x)[:, kv_head * hs : (kv_head + 1) * hs]  # (T, d_k)
    scores = q @ k.T  # (T, T)
    scaled = scores / math.sqrt(hs)
    masked = scaled.masked_fill(~causal_mask(len(x), dev), float("-inf"))
    weights = torch.softmax(masked, dim=-1)  # (T, T), rows sum to 1
    out = weights @ v  # (T, d_k)
    steps = dict(X=x, Q=q, K=k, V=v, scaled=scaled, masked=masked, weights=weights, out=out)
    steps["QK^T"] = scores
    return {name: t.detach().float().cpu() for name, t in steps.items()}


def sampler_stages(
    logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None
) -> dict:
    """The next-token distribution after each step of the sampler, in its order, all from ``sampling_probs``.

    logits ``(V,)`` -> ``temperature``, ``top-k`` (temperature then top-k) and ``sampled`` (then
    top-p: the distribution a token is drawn from), each ``(V,)``; ``kept_k`` / ``kept_p``: how many
    tokens keep a chance after top-k and after top-p.
    """
    after_t = sampling_probs(logits, temperature)
    after_k = sampling_probs(logits, temperature, top_k=top_k)
    final = sampling_probs(logits, temperature, top_k=top_k, top_p=top_p)
    return {
        "temperature": after_t,
        "top-k": after_k,
        "sampled": final,
        "kept_k": int((after_k > 0).sum()),
        "kept_p": int((final > 0).sum()),
    }


# ----------------------------------------------------------------------------------------------
# Input checks: one line that says what happened and what to do


class InputProblem(ValueError):
    """Input the explorer cannot show; its message is the one line the learner reads."""


def encode_prompt(
    tokenizer, text: str, block_size: int, keep: str = "last"
) -> tuple[list[int], str]:
    """``text`` -> token ids that fit the context, and a note ("" when nothing was cut).

    Raises :class:`InputProblem` for an empty text or characters outside the vocabulary. A text
    longer than ``block_size`` tokens is cut to its last (``keep="last"``, what generation does) or
    first ``block_size`` tokens, and the note says so.
    """
    if not text:
        raise InputProblem("The prompt is empty: type at least one character.")
    unknown = tokenizer.unknown_characters(text) if hasattr(tokenizer, "unknown_characters") else []
    if unknown:
        shown = " ".join(f"“{c}”" for c in unknown[:8])
        raise InputProblem(
            f"{len(unknown)} character(s) the model has no id for: {shown}. Remove or replace them "
            "(straight quotes for curly ones, plain letters for accented ones)."
        )
    try:
        ids = tokenizer.encode(text)
    except ValueError as exc:
        raise InputProblem(str(exc).splitlines()[0]) from None
    if not ids:
        raise InputProblem("The prompt gives no tokens: type at least one character.")
    if len(ids) <= block_size:
        return ids, ""
    where = "last" if keep == "last" else "first"
    note = (
        f"The prompt has {len(ids)} tokens, more than the model's context of {block_size}: "
        f"showing its {where} {block_size}. Shorten it to see all of it."
    )
    return (ids[-block_size:] if keep == "last" else ids[:block_size]), note


# ----------------------------------------------------------------------------------------------
# Display: controls above, a plain figure below that each change replaces in place


def _message_html(text: str, problem: bool) -> str:
    if not text:
        return ""
    color = "#b00020" if problem else "#555555"
    return f'<span style="color:{color}">{html.escape(text)}</span>'


class LiveView:
    """Controls (``self.box``) above a figure that every change recomputes (``self.render``).

    Subclasses build their controls, call ``self._watch(*controls)`` and implement ``render()``,
    which returns a plotly figure or a ``{mimetype: data}`` dict and may raise :class:`InputProblem`.
    """

    NOTE = "Live controls: they need a running Python kernel (what is shown below is for the default input)."
    box: Any  # the controls and the figure (an ipywidgets box), built by each subclass
    query: Any  # the query-token slider, in the subclasses that call _fit_query
    HINT = "Change a control: the live figure appears here; the one further below stays for the default input."

    def __init__(self) -> None:
        import ipywidgets as widgets

        self.message = widgets.HTML(value="")
        self.figure = None  # the figure (or bundle) shown now
        self.shown: dict = {}  # the numbers behind it
        self.update_ms = float("nan")  # how long the last update took
        self.out = widgets.Output()
        self._displayed = False
        self._quiet = False

    def _watch(self, *controls) -> None:
        for control in controls:
            control.observe(self._on_change, names="value")

    def _on_change(self, change=None) -> None:
        if not self._quiet:
            self.refresh()

    def render(self):  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def refresh(self) -> None:
        """Recompute the figure for the current controls; problems go to the message line."""
        start = time.perf_counter()
        try:
            self.message.value = ""
            self.figure = self.render()
        except InputProblem as exc:
            self.message.value = _message_html(str(exc), problem=True)
            return
        except (
            Exception
        ) as exc:  # never a traceback into the notebook: one line, and the last figure stays
            self.message.value = _message_html(
                f"Could not update ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                "change the input, or re-run the cell.",
                problem=True,
            )
            return
        if self._displayed:
            from IPython.display import display

            self.out.clear_output(wait=True)
            with self.out:
                display(self._bundle(), raw=True)
        self.update_ms = (time.perf_counter() - start) * 1e3

    def _fit_query(self, ids_now, to_last: bool) -> None:
        """Fit the ``query`` slider to the tokens ``ids_now()`` gives (no redraw meanwhile), then redraw once.

        ``to_last``: put the query on the last token; else keep it, within the new length.
        """
        try:
            ids = ids_now()
        except InputProblem:
            ids = None  # refresh() below says what is wrong
        if ids:
            self._quiet = True
            try:
                self.query.max = max(len(ids) - 1, 1)
                self.query.value = len(ids) - 1 if to_last else min(self.query.value, len(ids) - 1)
            finally:
                self._quiet = False
        self.refresh()

    def note(self, text: str) -> None:
        """A one-line remark (not an error) under the controls."""
        self.message.value = _message_html(text, problem=False)

    def _bundle(self) -> dict:
        if self.figure is None:
            return {"text/plain": "(no figure: see the message above)"}
        if isinstance(self.figure, dict):
            return self.figure
        return self.figure._repr_mimebundle_()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        bundle = getattr(self.box, "_repr_mimebundle_", None)
        if bundle is None:  # ipywidgets 7 displays itself
            display(self.box)
        else:
            data = bundle()
            data["text/plain"] = self.NOTE
            display(data, raw=True)
        display(
            self._bundle(), raw=True
        )  # the figure for the input as it is now, kept in a saved notebook
        self._displayed = True
        if not self.message.value:
            self.note(self.HINT)


def _slider(kind: str, description: str, value, lo, hi, step, width: str = "300px"):
    import ipywidgets as widgets

    cls = widgets.IntSlider if kind == "int" else widgets.FloatSlider
    return cls(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
        layout=widgets.Layout(width=width),
    )


def _prompt_box(value: str, description: str = "prompt:"):
    import ipywidgets as widgets

    return widgets.Text(
        value=value,
        description=description,
        continuous_update=False,
        layout=widgets.Layout(width="620px"),
    )


def _sampler_controls(temperature: float, top_k: int, top_p: float, vocab_size: int):
    return (
        _slider("float", "temperature T (0 = greedy)", temperature, 0.0, 2.0, 0.05),
        _slider("int", "top-k (0 = off)", top_k, 0, vocab_size, 1),
        _slider("float", "top-p (1 = off)", top_p, 0.05, 1.0, 0.05),
    )


def _sampler_args(temperature, top_k, top_p) -> tuple[float, int | None, float | None]:
    return (
        float(temperature.value),
        (int(top_k.value) or None),
        (float(top_p.value) if top_p.value < 1 else None),
    )


# ----------------------------------------------------------------------------------------------
# 1. The whole model


class ModelExplorer(LiveView):
    """The whole forward pass of ``model`` (an ``llmlab.gpt.GPT``) for a prompt the learner types.

    Display the result (last line of a cell). Controls: the prompt (press Enter), the layer and head
    whose attention is drawn, the query token of the line view, the sampler's temperature / top-k /
    top-p, and "next token", which samples from the distribution shown (``seed`` makes it repeatable),
    appends the token and updates everything. ``candidates``: how many of the most likely next
    tokens the last two panels show.
    """

    def __init__(
        self,
        model,
        tokenizer,
        prompt: str = "The history of the c",
        layer: int = 0,
        head: int = 0,
        temperature: float = 0.8,
        top_k: int = 10,
        top_p: float = 0.9,
        candidates: int = 24,
        seed: int = 0,
    ) -> None:
        import ipywidgets as widgets

        super().__init__()
        self.model, self.tokenizer, self.candidates = model, tokenizer, candidates
        cfg = model.config
        self.generator = torch.Generator().manual_seed(seed)
        self.prompt = _prompt_box(prompt)
        self.layer = _slider("int", "layer", layer, 0, cfg.n_layer - 1, 1, "220px")
        self.head = _slider("int", "head", head, 0, cfg.n_head - 1, 1, "220px")
        self.query = _slider("int", "query token (lines)", 0, 0, 1, 1, "380px")
        self.temperature, self.top_k, self.top_p = _sampler_controls(
            temperature, top_k, top_p, cfg.vocab_size
        )
        self.next_button = widgets.Button(
            description="next token",
            button_style="primary",
            tooltip="sample one token from the distribution below and append it",
        )
        self.next_button.on_click(lambda _: self.next_token())
        self._watch(self.layer, self.head, self.query, self.temperature, self.top_k, self.top_p)
        self.prompt.observe(self._on_prompt, names="value")
        self.box = widgets.VBox(
            [
                widgets.HBox([self.prompt, self.next_button]),
                widgets.HBox([self.layer, self.head, self.query]),
                widgets.HBox([self.temperature, self.top_k, self.top_p]),
                self.message,
                self.out,
            ]
        )
        self._trace_key: list[int] | None = None
        self._on_prompt()

    def _on_prompt(self, change=None) -> None:
        """A new prompt: the query slider moves to its last token, then everything is redrawn."""
        self._fit_query(
            lambda: encode_prompt(self.tokenizer, self.prompt.value, self.model.config.block_size)[
                0
            ],
            to_last=True,
        )

    def trace(self) -> tuple[ForwardTrace, str]:
        """The forward pass of the current prompt (recomputed only when the prompt changes)."""
        ids, note = encode_prompt(self.tokenizer, self.prompt.value, self.model.config.block_size)
        if self._trace_key != ids:
            self._trace = trace_forward(self.model, self.tokenizer, ids)
            self._trace_key = ids
        return self._trace, note

    def render(self):
        trace, note = self.trace()
        T = len(trace.ids)
        layer, head, query = self.layer.value, self.head.value, min(self.query.value, T - 1)
        temperature, top_k, top_p = _sampler_args(self.temperature, self.top_k, self.top_p)
        last = trace.logits[-1]  # (V,)
        stages = sampler_stages(last, temperature, top_k, top_p)
        order = torch.argsort(last, descending=True)[
            : self.candidates
        ].tolist()  # most likely first
        names, adds = trace.residual_adds()
        settings = (
            f"T = {temperature:g} → top-k = {top_k or 'off'} keeps {stages['kept_k']} → "
            f"top-p = {top_p or 'off'} keeps {stages['kept_p']} (renormalised)"
        )
        self.shown = dict(
            ids=trace.ids,
            tok_emb=trace.tok_emb,
            pos_emb=trace.pos_emb,
            attention=trace.maps[layer, head],
            layer=layer,
            head=head,
            query=query,
            residual_names=names,
            residual_adds=adds,
            candidates=order,
            logits=last[order],
            distribution=stages["sampled"],
            stages={k: (v[order] if torch.is_tensor(v) else v) for k, v in stages.items()},
        )
        if note:
            self.note(note)
        return figures.forward_pass_figure(
            trace.tokens,
            trace.ids,
            trace.tok_emb,
            trace.pos_emb,
            trace.maps[layer, head],
            layer,
            head,
            query,
            adds,
            names,
            last[order],
            self.shown["stages"],
            [self.tokenizer.decode([i]) for i in order],
            self.model.config.vocab_size,
            settings,
            notes=[f"prompt: “{_tail(self.tokenizer.decode(trace.ids))}” ({T} tokens)"],
        )

    def next_token(self) -> int | None:
        """Sample one token from the distribution shown, append it to the prompt (which redraws)."""
        try:
            trace, _ = self.trace()
            probs = sampler_stages(
                trace.logits[-1], *_sampler_args(self.temperature, self.top_k, self.top_p)
            )["sampled"]
            token = int(torch.multinomial(probs, 1, generator=self.generator))
        except Exception as exc:  # a button's callback must not raise either: one line instead
            self.message.value = _message_html(
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__, problem=True
            )
            return None
        self.prompt.value = self.prompt.value + self.tokenizer.decode([token])  # redraws
        return token


def _tail(text: str, n: int = 60) -> str:
    text = "".join(display_token(c) if c in "\n\t" else c for c in text)
    return ("…" + text[-n:]) if len(text) > n else text


# ----------------------------------------------------------------------------------------------
# 2. One head, step by step


class AttentionWalkthrough(LiveView):
    """One attention head of ``model`` on a short sentence: X -> Q, K, V -> QKᵀ -> ÷√d_k -> mask -> softmax -> ·V.

    X is the head's real input (layer ``layer``'s LayerNorm of the residual stream), the projections
    are the layer's weights; the last panel's weights equal ``model.attention_maps`` (tested).
    Controls: the sentence, layer, head, and the query token whose row is highlighted everywhere.
    """

    MAX_TOKENS = 24

    def __init__(
        self,
        model,
        tokenizer,
        sentence: str = "The cat sat.",
        layer: int = 0,
        head: int = 0,
    ) -> None:
        import ipywidgets as widgets

        super().__init__()
        self.model, self.tokenizer = model, tokenizer
        cfg = model.config
        self.sentence = _prompt_box(sentence, "sentence:")
        self.layer = _slider("int", "layer", layer, 0, cfg.n_layer - 1, 1, "220px")
        self.head = _slider("int", "head", head, 0, cfg.n_head - 1, 1, "220px")
        self.query = _slider("int", "query token", 0, 0, 1, 1, "380px")
        self._watch(self.layer, self.head, self.query)
        self.sentence.observe(self._on_sentence, names="value")
        self.box = widgets.VBox(
            [
                self.sentence,
                widgets.HBox([self.layer, self.head, self.query]),
                self.message,
                self.out,
            ]
        )
        self._on_sentence()

    def _ids(self) -> tuple[list[int], str]:
        ids, note = encode_prompt(
            self.tokenizer, self.sentence.value, self.MAX_TOKENS, keep="first"
        )
        if note:
            note = (
                f"The walkthrough shows at most {self.MAX_TOKENS} tokens (beyond that the panels are unreadable): "
                f"showing the first {self.MAX_TOKENS} of {len(self.tokenizer.encode(self.sentence.value))}."
            )
        return ids, note

    def _on_sentence(self, change=None) -> None:
        self._fit_query(lambda: self._ids()[0], to_last=change is None)

    def render(self):
        ids, note = self._ids()
        trace = trace_forward(self.model, self.tokenizer, ids)
        layer, head, query = self.layer.value, self.head.value, min(self.query.value, len(ids) - 1)
        steps = head_steps(self.model, trace, layer, head)
        self.shown = dict(ids=ids, layer=layer, head=head, query=query, steps=steps)
        if note:
            self.note(note)
        d_k = steps["Q"].shape[1]
        title = (
            f"Layer {layer}, head {head} of the course GPT on “{_tail(self.tokenizer.decode(ids))}”: "
            f"softmax(Q Kᵀ / √{d_k} + mask) V<br><sup>the highlighted row is one query token in every stage; "
            "move the slider under the figure (works without a kernel)</sup>"
        )
        return figures.walkthrough_figure(steps, trace.tokens, query, title)


# ----------------------------------------------------------------------------------------------
# 3. Live versions of lessons' fixed pictures: sampling, positional encoding, fine-tuning


class SamplingExplorer(LiveView):
    """Sliders for temperature, top-k and top-p that regenerate ``length`` characters after ``prompt``.

    Each generated character is coloured by the probability it had in the distribution it was drawn
    from (``llmlab.generation.next_token_distributions``, the same tokens as ``generate``).
    """

    def __init__(
        self,
        model,
        tokenizer,
        prompt: str = "The history of ",
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
        length: int = 120,
        seed: int = 0,
    ) -> None:
        import ipywidgets as widgets

        super().__init__()
        self.model, self.tokenizer = model, tokenizer
        self.prompt = _prompt_box(prompt)
        self.temperature, self.top_k, self.top_p = _sampler_controls(
            temperature, top_k, top_p, model.config.vocab_size
        )
        self.length = _slider("int", "characters", length, 10, 300, 10, "300px")
        self.seed = widgets.IntText(
            value=seed, description="seed:", layout=widgets.Layout(width="160px")
        )
        self._watch(self.prompt, self.temperature, self.top_k, self.top_p, self.length, self.seed)
        self.box = widgets.VBox(
            [
                widgets.HBox([self.prompt, self.seed]),
                widgets.HBox([self.temperature, self.top_k, self.top_p]),
                self.length,
                self.message,
                self.out,
            ]
        )
        self.refresh()

    def render(self):
        ids, note = encode_prompt(self.tokenizer, self.prompt.value, self.model.config.block_size)
        temperature, top_k, top_p = _sampler_args(self.temperature, self.top_k, self.top_p)
        trace = next_token_distributions(
            self.model,
            ids,
            int(self.length.value),
            temperature,
            top_k,
            top_p,
            seed=int(self.seed.value),
        )
        probs = [float(trace.probs[s, t]) for s, t in enumerate(trace.tokens)]
        self.shown = dict(ids=ids, tokens=trace.tokens, probs=probs)
        if note:
            self.note(note)
        settings = f"T = {temperature:g}, top-k = {top_k or 'off'}, top-p = {top_p or 'off'}, seed {self.seed.value}"
        return figures.probability_text_figure(
            self.tokenizer.decode(ids),
            [self.tokenizer.decode([t]) for t in trace.tokens],
            probs,
            settings,
        )


class PositionalExplorer(LiveView):
    """Sliders for ``d_model``, the number of positions and one position, computing the sinusoidal table live.

    Shows the table (``llmlab.positional.sinusoidal``), the chosen position's vector and its dot
    product with every position (``position_similarity``).
    """

    def __init__(
        self,
        d_model: int = 64,
        n_positions: int = 100,
        position: int = 20,
        base: float = 10000.0,
    ) -> None:
        import ipywidgets as widgets

        super().__init__()
        self.base = base
        self.d_model = _slider("int", "d_model", d_model, 2, 512, 2)
        self.n_positions = _slider("int", "positions", n_positions, 2, 512, 1)
        self.position = _slider("int", "position", position, 0, 511, 1)
        self._watch(self.d_model, self.n_positions, self.position)
        self.box = widgets.VBox(
            [widgets.HBox([self.d_model, self.n_positions, self.position]), self.message, self.out]
        )
        self.refresh()

    def render(self):
        d, n, pos = int(self.d_model.value), int(self.n_positions.value), int(self.position.value)
        if pos >= n:
            raise InputProblem(
                f"position {pos} is outside the table's {n} positions (0 .. {n - 1}): "
                "move the position slider down or show more positions."
            )
        table = positional.sinusoidal(n, d, self.base)  # (n, d)
        similarity = positional.position_similarity(table)[pos]  # (n,)
        self.shown = dict(table=table, similarity=similarity, position=pos)
        return figures.sinusoidal_figure(table, pos, similarity)


class AnswerComparison(LiveView):
    """Type an instruction, see each model's greedy answer (``llmlab.finetuning.answer``) side by side.

    ``models``: e.g. ``{"pretrained": base, "full fine-tuning": full, "LoRA": adapted}``.
    """

    def __init__(
        self,
        models: dict[str, nn.Module],
        tokenizer,
        instruction: str = "Reverse the word: house",
        max_new_tokens: int = 24,
    ) -> None:
        import ipywidgets as widgets

        super().__init__()
        if not models:
            raise ValueError("compare_answers needs at least one model: pass {'name': model, ...}.")
        self.models, self.tokenizer, self.max_new_tokens = dict(models), tokenizer, max_new_tokens
        self.instruction = _prompt_box(instruction, "instruction:")
        self._watch(self.instruction)
        self.box = widgets.VBox([self.instruction, self.message, self.out])
        self.refresh()

    def render(self):
        from llmlab import finetuning

        text = self.instruction.value.strip()
        if not text:
            raise InputProblem(
                "The instruction is empty: type one, e.g. “Reverse the word: house”."
            )
        block = min(m.config.block_size for m in self.models.values())
        encode_prompt(
            self.tokenizer, finetuning.format_prompt(text), block - 1
        )  # one line if it cannot fit
        answers = {
            name: finetuning.answer(m, self.tokenizer, [text], self.max_new_tokens)[0]
            for name, m in self.models.items()
        }
        self.shown = dict(instruction=text, answers=answers)
        rows = "".join(
            f"<tr><td style='text-align:left'><b>{html.escape(name)}</b></td>"
            f"<td style='text-align:left;font-family:monospace'>{html.escape(repr(a))}</td></tr>"
            for name, a in answers.items()
        )
        width = max(len(n) for n in answers)
        plain = "\n".join(f"{name:<{width}}  {a!r}" for name, a in answers.items())
        return {
            "text/html": f"<p>Instruction: <code>{html.escape(text)}</code> (greedy answers)</p>"
            f"<table><tr><th>model</th><th>answer</th></tr>{rows}</table>",
            "text/plain": f"Instruction: {text!r} (greedy answers)\n{plain}",
        }


# The names the lessons and the README call them by, e.g. widgets.model_explorer(model, tokenizer).
model_explorer = ModelExplorer
attention_walkthrough = AttentionWalkthrough
sampling_explorer = SamplingExplorer
positional_explorer = PositionalExplorer
compare_answers = AnswerComparison

__all__ = [
    "AnswerComparison",
    "AttentionWalkthrough",
    "ForwardTrace",
    "InputProblem",
    "ModelExplorer",
    "PositionalExplorer",
    "SamplingExplorer",
    "attention_walkthrough",
    "compare_answers",
    "encode_prompt",
    "head_steps",
    "model_explorer",
    "positional_explorer",
    "sampler_stages",
    "sampling_explorer",
    "trace_forward",
]
