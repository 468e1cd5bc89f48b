"""The live explorers, driven from Python: set a control, check that the numbers shown are the library's own.

Every check compares what an explorer shows (``explorer.shown`` and the plotly figure it drew) with
an independent computation: ``model.attention_maps``, the model's logits, ``sampling_probs``,
``generate``, ``positional.sinusoidal``, ``finetuning.answer``, PyTorch's fused attention.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from llmlab import finetuning, positional, widgets
from llmlab.generation import generate, sampling_probs
from llmlab.training import load_course_model

PROMPT_64 = "The history of the city begins in the year 1200, when the king s"[:64]


@pytest.fixture(scope="module")
def course():
    torch.set_num_threads(2)
    ckpt = load_course_model()
    return ckpt.model.eval(), ckpt.tokenizer


def _logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids]))[0][0]  # (T, V)


def _trace(fig, name=None, kind=None):
    return [
        t for t in fig.data if (name is None or t.name == name) and (kind is None or t.type == kind)
    ]


# ----------------------------------------------------------------------------------------------
# The recorded forward pass


def test_trace_forward_matches_the_model(course):
    model, tok = course
    ids = tok.encode(PROMPT_64)
    tr = widgets.trace_forward(model, tok, ids)
    T, C = len(ids), model.config.n_embd
    assert tr.tok_emb.shape == tr.pos_emb.shape == (T, C)
    torch.testing.assert_close(tr.tok_emb, model.transformer.wte.weight[ids].detach())
    torch.testing.assert_close(tr.pos_emb, model.transformer.wpe.weight[:T].detach())
    torch.testing.assert_close(tr.logits, _logits(model, ids), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(tr.maps, model.attention_maps(torch.tensor([ids]))[:, 0])
    # the residual stream: embeddings plus every addition, through the final LayerNorm, gives the logits
    x = tr.tok_emb + tr.pos_emb + sum(tr.attn_out) + sum(tr.mlp_out)
    with torch.no_grad():
        again = model.lm_head(model.transformer.ln_f(x))
    torch.testing.assert_close(again, tr.logits, atol=1e-4, rtol=1e-4)
    names, adds = tr.residual_adds()
    assert adds.shape == (1 + 2 * model.config.n_layer, T) and len(names) == adds.shape[0]
    torch.testing.assert_close(adds[2], tr.mlp_out[0].norm(dim=-1))


# ----------------------------------------------------------------------------------------------
# The model explorer


def test_model_explorer_shows_the_models_numbers(course):
    model, tok = course
    ex = widgets.model_explorer(model, tok)
    ex.prompt.value = PROMPT_64
    ex.layer.value, ex.head.value = 2, 3
    ex.temperature.value, ex.top_k.value, ex.top_p.value = 0.7, 12, 0.8
    assert ex.message.value == ""
    ids = tok.encode(PROMPT_64)
    assert ex.shown["ids"] == ids and ex.query.value == len(ids) - 1
    expected = model.attention_maps(torch.tensor([ids]))[2, 0, 3]
    torch.testing.assert_close(ex.shown["attention"], expected)
    heat = [t for t in _trace(ex.figure, kind="heatmap") if t.coloraxis == "coloraxis2"]
    np.testing.assert_allclose(np.asarray(heat[0].z), expected.numpy(), atol=1e-6)
    # the query row of the line view is that row of the map: one band per key it attends to
    row = expected[ex.query.value]
    bands = _trace(ex.figure, kind="scatter")[0]
    assert sum(1 for v in bands.x if v is None) == int((row >= 0.005).sum())
    # final logits and the sampler's distribution, in its order
    last = _logits(model, ids)[-1]
    order = ex.shown["candidates"]
    assert order == torch.argsort(last, descending=True)[: len(order)].tolist()
    np.testing.assert_allclose(
        np.asarray(_trace(ex.figure, kind="bar")[0].y), last[order].numpy(), atol=1e-4
    )
    want = sampling_probs(last, 0.7, top_k=12, top_p=0.8)
    torch.testing.assert_close(ex.shown["distribution"], want, atol=1e-6, rtol=1e-5)
    sampled = _trace(ex.figure, name="then top-p: sampled from")[0]
    np.testing.assert_allclose(np.asarray(sampled.y), want[order].numpy(), atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(_trace(ex.figure, name="then top-k")[0].y),
        sampling_probs(last, 0.7, top_k=12)[order].numpy(),
        atol=1e-6,
    )
    assert ex.shown["stages"]["kept_k"] == 12 and ex.shown["stages"]["kept_p"] == int(
        (want > 0).sum()
    )
    # the cut-offs are drawn where the kept tokens end
    cut_x = sorted(s.x0 for s in ex.figure.layout.shapes if s.type == "line")
    assert cut_x == sorted([int((want > 0).sum()) - 0.5, 11.5])


def test_model_explorer_query_and_settings_off(course):
    model, tok = course
    ex = widgets.model_explorer(
        model, tok, prompt="The cat sat on the mat.", top_k=0, top_p=1.0, temperature=1.0
    )
    ex.query.value = 4
    assert ex.shown["query"] == 4
    assert ex.figure.layout.shapes[0].y0 == 3.5  # the highlighted row of the heatmap
    last = _logits(model, tok.encode("The cat sat on the mat."))[-1]
    torch.testing.assert_close(
        ex.shown["distribution"], torch.softmax(last, -1), atol=1e-6, rtol=1e-5
    )
    assert not [
        s for s in ex.figure.layout.shapes if s.type == "line"
    ]  # nothing cut: no cut-off lines


def test_next_token_samples_from_the_distribution_shown(course):
    model, tok = course
    ex = widgets.model_explorer(
        model, tok, prompt="The history of the c", top_k=1
    )  # top-k 1: the argmax
    before = ex.prompt.value
    want = int(_logits(model, tok.encode(before))[-1].argmax())
    assert ex.next_token() == want
    assert ex.prompt.value == before + tok.decode([want])
    assert ex.shown["ids"] == tok.encode(
        ex.prompt.value
    )  # everything was redrawn for the new prompt
    ex.top_k.value = 0
    dist = ex.shown["distribution"]
    token = ex.next_token()
    assert dist[token] > 0


@pytest.mark.parametrize(
    "bad, words",
    [
        ("", "empty"),
        ("caf\u00e9 \u201cquoted\u201d", "no id for"),
    ],
)
def test_bad_prompt_leaves_a_message_and_the_last_figure(course, bad, words):
    model, tok = course
    ex = widgets.model_explorer(model, tok)
    fig = ex.figure
    ex.prompt.value = bad  # must not raise
    assert words in ex.message.value and ex.figure is fig
    ex.prompt.value = "Back to normal"
    assert ex.message.value == "" and ex.shown["ids"] == tok.encode("Back to normal")


def test_prompt_longer_than_the_context_is_cut_to_its_end(course):
    model, tok = course
    ex = widgets.model_explorer(model, tok)
    long = "The cat sat on the mat. " * 8  # 192 characters, context 128
    ex.prompt.value = long
    bs = model.config.block_size
    assert "more than the model's context" in ex.message.value.replace("&#x27;", "'")
    assert ex.shown["ids"] == tok.encode(long)[-bs:]


def test_an_unexpected_error_becomes_one_line(course, monkeypatch):
    model, tok = course
    ex = widgets.model_explorer(model, tok)

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(widgets, "trace_forward", broken)
    ex.prompt.value = "Something new"
    assert "RuntimeError: boom" in ex.message.value and "second line" not in ex.message.value


def test_display_keeps_a_plain_figure_and_draws_changes_under_the_controls(course, monkeypatch):
    model, tok = course
    shown = []

    def fake_display(*objs, raw=False, **kwargs):
        shown.append(objs[0])

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", fake_display)
    ex = widgets.model_explorer(model, tok)
    ex._ipython_display_()
    # the controls (with a note for readers without a kernel), then the figure for the default input
    assert len(shown) == 2 and ex.out in ex.box.children
    assert "appears here" in ex.message.value
    ex.head.value = 1
    assert len(shown) == 3 and ex.update_ms > 0 and ex.message.value == ""


# ----------------------------------------------------------------------------------------------
# The attention walkthrough


def test_attention_walkthrough_stages(course):
    model, tok = course
    wk = widgets.attention_walkthrough(model, tok, sentence="The cat sat.", layer=1, head=2)
    assert wk.message.value == ""
    s, ids = wk.shown["steps"], tok.encode("The cat sat.")
    T, d_k = len(ids), model.config.n_embd // model.config.n_head
    assert s["X"].shape == (T, model.config.n_embd) and s["Q"].shape == (T, d_k)
    torch.testing.assert_close(s["scaled"], s["QK^T"] / math.sqrt(d_k))
    assert torch.isinf(s["masked"][torch.triu(torch.ones(T, T, dtype=torch.bool), 1)]).all()
    maps = model.attention_maps(torch.tensor([ids]))
    torch.testing.assert_close(s["weights"], maps[1, 0, 2], atol=1e-6, rtol=1e-5)
    fused = F.scaled_dot_product_attention(
        s["Q"][None], s["K"][None], s["V"][None], is_causal=True
    )[0]
    torch.testing.assert_close(s["out"], fused, atol=1e-5, rtol=1e-5)
    # the query selector highlights that row in all nine stages, and the figure's own slider starts there
    wk.query.value = 3
    rows = {sh.y0 for sh in wk.figure.layout.shapes}
    assert rows == {2.5} and len(wk.figure.layout.shapes) == 9
    assert wk.figure.layout.sliders[0].active == 3
    np.testing.assert_allclose(np.asarray(wk.figure.data[7].z), s["weights"].numpy(), atol=1e-6)


def test_attention_walkthrough_long_sentence_is_cut(course):
    model, tok = course
    wk = widgets.attention_walkthrough(
        model, tok, sentence="A fairly long sentence that goes on and on."
    )
    assert "at most 24 tokens" in wk.message.value
    assert wk.shown["ids"] == tok.encode("A fairly long sentence that goes on and on.")[:24]


# ----------------------------------------------------------------------------------------------
# Sampling, positional encoding, fine-tuned answers


def test_sampling_explorer_regenerates_what_generate_writes(course):
    model, tok = course
    se = widgets.sampling_explorer(model, tok, prompt="The history of ", length=30)
    se.temperature.value, se.top_k.value, se.top_p.value, se.seed.value = 1.2, 20, 0.9, 5
    ids = tok.encode("The history of ")
    want = generate(model, ids, 30, temperature=1.2, top_k=20, top_p=0.9, seed=5)
    assert se.shown["tokens"] == want[0, len(ids) :].tolist()
    assert all(0 < p <= 1 for p in se.shown["probs"])
    z = np.asarray(se.figure.data[0].z, dtype=float).ravel()
    np.testing.assert_allclose(z[len(ids) : len(ids) + 30], se.shown["probs"], atol=1e-6)
    se.prompt.value = "caf\u00e9"
    assert "no id for" in se.message.value


def test_positional_explorer_computes_the_table(course):
    pe = widgets.positional_explorer()
    pe.d_model.value, pe.n_positions.value, pe.position.value = 32, 50, 7
    torch.testing.assert_close(pe.shown["table"], positional.sinusoidal(50, 32))
    sim = pe.shown["similarity"]
    torch.testing.assert_close(
        sim, positional.sinusoidal(50, 32) @ positional.sinusoidal(50, 32)[7]
    )
    assert float(sim[7]) == pytest.approx(16.0, abs=1e-4)  # |PE(pos)|² = d_model / 2
    pe.position.value = 60
    assert "outside the table" in pe.message.value and pe.shown["position"] == 7


def test_compare_answers_shows_each_models_answer(course):
    model, tok = course
    ca = widgets.compare_answers(
        {"pretrained": model, "again": model}, tok, instruction="Uppercase: house"
    )
    want = finetuning.answer(model, tok, ["Uppercase: house"], 24)[0]
    assert ca.shown["answers"] == {"pretrained": want, "again": want}
    assert repr(want) in ca.figure["text/plain"]
    ca.instruction.value = "   "
    assert "empty" in ca.message.value
    with pytest.raises(ValueError, match="at least one model"):
        widgets.compare_answers({}, tok)


def test_figures_built_from_dicts_pass_plotlys_validation(course):
    """The explorer and walkthrough skip plotly's per-property checks for speed: check them here once."""
    import plotly.graph_objects as go

    model, tok = course
    for fig in (
        widgets.model_explorer(model, tok, prompt=PROMPT_64).figure,
        widgets.attention_walkthrough(model, tok).figure,
    ):
        checked = go.Figure(fig.to_dict())  # raises on any invalid property
        assert len(checked.data) == len(fig.data)


def test_next_token_on_a_bad_prompt_says_so(course):
    model, tok = course
    ex = widgets.model_explorer(model, tok)
    ex.prompt.value = ""
    assert ex.next_token() is None and "empty" in ex.message.value and ex.prompt.value == ""
