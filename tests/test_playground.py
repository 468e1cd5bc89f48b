"""The playground (playground.html on the course site) in headless Chromium, offline, against PyTorch.

The site is built from the committed notebooks into a temporary folder; playground.html is opened
from ``file://`` with every request outside the site refused.  A prompt is typed, and the page's
logits and sampling distribution (``window.playgroundState``, what its bars show) must equal
PyTorch's ``model(ids)`` and ``llmlab.generation.sampling_probs`` within 1e-4; a sampled step
appends one character; bad input is reported in place and the page keeps working.  Without
Chromium the test is skipped on a developer's machine and fails in CI (``CI`` set), as test_site.py.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch

from llmlab import generation, training

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import browser  # noqa: E402  (tools/browser.py)
import build_site  # noqa: E402  (tools/build_site.py)

TIMEOUT_MS = 60_000
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("built") / "site"
    build_site.build(out, build_site.NOTEBOOKS)
    return out


@pytest.fixture(scope="module")
def course():
    return training.load_course_model()


def _open(chrome, folder: Path, ready: str = "ready"):
    """playground.html from ``folder``, offline; waits for ``body[data-state=ready]`` (or ``failed``)."""
    context, blocked = browser.open_context(
        chrome, allowed=[folder], viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((folder / "playground.html").resolve().as_uri())
    page.wait_for_selector(f"body[data-state={ready}]", timeout=15_000)
    return page, blocked, errors


def _type(page, selector: str, text: str) -> None:
    page.fill(selector, "")
    page.type(selector, text)


def _torch_probs(course, prompt: str, temperature, top_k, top_p):
    ids = course.tokenizer.encode(prompt)[-course.config.block_size :]
    with torch.no_grad():
        logits = course.model(torch.tensor([ids]))[0][0, -1]
    return logits, generation.sampling_probs(logits, temperature, top_k, top_p)


@pytest.mark.parametrize(
    "temperature,top_k,top_p",
    [(1.0, None, None), (0.7, 10, 0.9), (1.5, None, 0.5), (0.0, None, None)],
)
def test_page_distribution_equals_pytorch(chrome, site, course, temperature, top_k, top_p):
    page, blocked, errors = _open(chrome, site)
    prompt = "The history of the "
    _type(page, "#prompt", prompt)
    page.fill("#temperature", str(temperature))
    page.fill("#top-k", "" if top_k is None else str(top_k))
    page.fill("#top-p", "1" if top_p is None else str(top_p))
    state = page.evaluate("window.playgroundState")
    assert state["ids"] == course.tokenizer.encode(prompt)
    logits, probs = _torch_probs(course, prompt, temperature, top_k, top_p)
    assert (torch.tensor(state["logits"]) - logits).abs().max().item() < TOLERANCE
    assert (torch.tensor(state["probs"]) - probs).abs().max().item() < TOLERANCE
    # the bars show the same numbers: the first bar is the model's most likely character
    first = page.locator("#bars .pg-p").first.inner_text()
    assert float(first) == pytest.approx(state["probs"][int(logits.argmax())], abs=6e-4)
    assert not blocked and not errors


def test_sampling_appends_one_character_and_attention_is_drawn(chrome, site, course):
    page, blocked, errors = _open(chrome, site)
    _type(page, "#prompt", "Once upon a time")
    page.fill("#top-k", "5")
    assert (
        page.inner_text("#bars .pg-cut") == "top-k cut (k = 5)"
    )  # drawn right after the fifth bar:
    assert (
        page.locator("#bars .pg-cut").evaluate("e => [...e.parentNode.children].indexOf(e)")
        == 5 * 3
    )  # 3 cells a bar
    before = page.input_value("#prompt")
    page.click("#sample")
    after = page.input_value("#prompt")
    assert len(after) == len(before) + 1 and after.startswith(before)
    assert after[-1] in course.tokenizer.chars
    state = page.evaluate("window.playgroundState")
    assert state["ids"] == course.tokenizer.encode(after)
    # attention views: every layer/head choice redraws; the line view has one label per key and query
    page.select_option("#layer", "3")
    page.select_option("#head", "2")
    assert page.locator("#lines text").count() >= len(after)
    assert page.locator("#tokens .pg-token").count() == len(after)
    assert not blocked and not errors


def test_bad_input_is_reported_in_place_and_the_page_keeps_working(chrome, site, course):
    page, _, errors = _open(chrome, site)
    _type(page, "#prompt", "café")
    message = page.locator("#prompt-message")
    assert message.is_visible() and '"é"' in message.inner_text()
    assert page.is_disabled("#sample")
    page.fill("#prompt", "")
    assert "empty" in message.inner_text()
    long = "abc " * 40  # 160 characters, context 128
    page.fill("#prompt", long)
    assert "longer than the model's context" in message.inner_text()
    state = page.evaluate("window.playgroundState")
    _, probs = _torch_probs(course, long, 1.0, None, None)
    assert len(state["ids"]) == course.config.block_size
    assert (torch.tensor(state["probs"]) - probs).abs().max().item() < TOLERANCE
    page.fill("#temperature", "-1")
    assert "temperature" in page.inner_text("#settings-message")
    page.fill("#temperature", "1")
    page.fill("#prompt", "fine again")
    assert message.is_hidden() and page.is_enabled("#sample")
    assert not errors


@pytest.mark.parametrize("damage", ["missing", "truncated", "wrong size"])
def test_missing_or_damaged_weights_show_a_message(chrome, site, tmp_path, damage):
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy2(site / "playground.html", copy)
    shutil.copytree(site / "playground", copy / "playground")
    weights = copy / "playground" / "model-weights.js"
    text = weights.read_text()
    if damage == "missing":
        weights.unlink()
    elif damage == "truncated":
        weights.write_text(text[: len(text) // 2])
    else:  # valid JavaScript, but the weights are cut short
        start = text.index('"data": "') + len('"data": "')
        weights.write_text(text[:start] + text[start + 4000 :])
    page, _, _ = _open(chrome, copy, ready="failed")
    status = page.inner_text("#load-status")
    assert "weights could not be" in status and "export-web" in status


def test_a_learners_checkpoint_runs_in_its_own_playground(chrome, tmp_path):
    """export-web with another shape, no biases and the exact GELU: the page still equals PyTorch."""
    from llmlab.gpt import GPT, GPTConfig
    from llmlab.tokenizers import CharTokenizer
    from llmlab.web_export import export_web

    tok = CharTokenizer.from_text("hello world, hello you.\n")
    torch.manual_seed(1)
    model = GPT(
        GPTConfig(
            vocab_size=tok.vocab_size,
            block_size=12,
            n_layer=3,
            n_head=2,
            n_embd=16,
            bias=False,
            gelu_approximate="none",
        )
    )
    training.save_checkpoint(tmp_path / "ck", model, tok)
    export_web(tmp_path / "mine", tmp_path / "ck")
    page, blocked, errors = _open(chrome, tmp_path / "mine")
    prompt = "hello world, hello"  # 18 characters, context 12: the last 12 are read
    _type(page, "#prompt", prompt)
    state = page.evaluate("window.playgroundState")
    with torch.no_grad():
        logits = model.eval()(torch.tensor([tok.encode(prompt)[-12:]]))[0][0, -1]
    assert (torch.tensor(state["logits"]) - logits).abs().max().item() < TOLERANCE
    assert "your checkpoint (ck)" in page.inner_text("#load-status")
    assert not blocked and not errors


def test_site_links_to_the_playground(site):
    for name in ("index.html", "03_attention.html", "04_mini_gpt.html"):
        assert 'href="playground.html"' in (site / name).read_text(encoding="utf-8"), name
    assert 'href="index.html"' in (site / "playground.html").read_text(encoding="utf-8")
