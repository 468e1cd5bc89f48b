"""llmlab.web_export and ``python -m llmlab export-web``: what the playground's weights file holds, and the CLI.

The page's forward pass itself is checked against PyTorch in a real browser by tests/test_playground.py.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from llmlab import training, web_export
from llmlab.__main__ import main
from llmlab.errors import UsageError
from llmlab.gpt import GPT, GPTConfig
from llmlab.tokenizers import BPETokenizer, CharTokenizer


def _payload_of(script: str) -> dict:
    prefix = f"window.{web_export.GLOBAL} = "
    assert script.startswith(prefix) and script.rstrip().endswith(";")
    return json.loads(script[len(prefix) :].rstrip().rstrip(";"))


def _tiny(directory, *, tokenizer=None, **config):
    tok = tokenizer or CharTokenizer.from_text("hello world, hello you.\n")
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=8, **config)
    )
    training.save_checkpoint(directory, model, tok)
    return model, tok


def test_payload_holds_every_weight_exactly_once(tmp_path):
    model, tok = _tiny(tmp_path / "ck", bias=False, gelu_approximate="none")
    ck = training.load_checkpoint(tmp_path / "ck")
    payload = _payload_of(web_export.weights_script(web_export.model_payload(ck, "tiny")))
    assert payload["format"] == web_export.FORMAT and payload["chars"] == "".join(tok.chars)
    assert payload["config"] == model.config.to_dict()
    data = np.frombuffer(base64.b64decode(payload["data"]), dtype="<f4")
    assert data.size == payload["floats"]
    names = [name for name, _, _ in payload["tensors"]]
    assert "lm_head.weight" not in names  # tied to the token embedding, stored once as wte
    state = model.state_dict()
    assert set(names) == set(state) - {"lm_head.weight"}
    for name, shape, offset in payload["tensors"]:
        stored = data[offset : offset + int(np.prod(shape))].reshape(shape)
        np.testing.assert_array_equal(stored, state[name].numpy())  # float32, bit for bit
    assert data.size == sum(p.numel() for p in model.parameters())


def test_only_char_level_decoders_can_be_exported(tmp_path):
    _tiny(tmp_path / "encoder", causal=False)
    with pytest.raises(UsageError, match="encoder"):
        web_export.export_web(tmp_path / "out1", tmp_path / "encoder")
    bpe = BPETokenizer.train("hello world, hello you. " * 20, 260)
    _tiny(tmp_path / "bpe", tokenizer=bpe)
    with pytest.raises(UsageError, match="--tokenizer char"):
        web_export.export_web(tmp_path / "out2", tmp_path / "bpe")
    assert not (tmp_path / "out1").exists() and not (tmp_path / "out2").exists()


def test_cli_writes_the_playground_and_never_overwrites_unasked(tmp_path, capsys):
    _tiny(tmp_path / "ck")
    out = tmp_path / "site"
    assert main(["export-web", "--checkpoint", tmp_path / "ck", "--out", out]) == 0
    assert capsys.readouterr().out.strip() == f"open {(out / 'playground.html').resolve().as_uri()}"
    for rel in web_export.FILES:
        assert (out / rel).is_file(), rel
    assert not list(out.rglob(".*.part"))  # no temporary file left behind
    html = (out / "playground.html").read_text(encoding="utf-8")
    assert "your checkpoint (ck)" in html and "{{" not in html
    assert (
        _payload_of((out / "playground" / "model-weights.js").read_text())["config"]["n_embd"] == 8
    )

    (out / "playground.html").write_text("mine")
    assert main(["export-web", "--checkpoint", tmp_path / "ck", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds playground.html" in err and "--force" in err
    assert (out / "playground.html").read_text() == "mine"
    assert main(["export-web", "--checkpoint", tmp_path / "ck", "--out", out, "--force"]) == 0
    assert (out / "playground.html").read_text() != "mine"


@pytest.mark.parametrize("problem", ["missing", "damaged", "out is a file"])
def test_cli_bad_input_is_one_line(tmp_path, capsys, problem):
    _tiny(tmp_path / "ck")
    checkpoint, out = tmp_path / "ck", tmp_path / "out"
    if problem == "missing":
        checkpoint = tmp_path / "nowhere"
    elif problem == "damaged":
        (checkpoint / "config.json").write_text("{not json")
    else:
        out.write_text("a file")
    assert main(["export-web", "--checkpoint", checkpoint, "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmlab export-web: error: ") and err.count("\n") == 1
    assert "Traceback" not in err
