"""llmlab.speedups: levers the machine lacks switch off with one printed line; those it has switch on."""

import contextlib

import torch

from llmlab import speedups, training
from llmlab.gpt import GPT, GPTConfig


def test_bf16_off_says_so_once(monkeypatch, capsys):
    monkeypatch.setattr(speedups, "bf16_supported", lambda device="cpu": False)
    monkeypatch.setattr(speedups, "_said", set())
    for _ in range(3):
        assert isinstance(speedups.autocast("bfloat16"), contextlib.nullcontext)
    out = capsys.readouterr().out
    assert out.count("bfloat16 off") == 1


def test_bf16_on_where_supported(monkeypatch):
    monkeypatch.setattr(speedups, "bf16_supported", lambda device="cpu": True)
    with speedups.autocast("bfloat16"):
        y = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert y.dtype == torch.bfloat16
    assert isinstance(speedups.autocast("float32"), contextlib.nullcontext)


def test_compile_off_without_a_compiler(monkeypatch, capsys):
    monkeypatch.setattr(speedups, "compiler_available", lambda: False)
    monkeypatch.setattr(speedups, "_said", set())
    model = torch.nn.Linear(2, 2)
    assert speedups.maybe_compile(model, True) is model
    assert speedups.maybe_compile(model, True) is model
    assert capsys.readouterr().out.count("torch.compile off") == 1
    assert speedups.maybe_compile(model, False) is model


def test_train_with_bf16_falls_back_and_still_learns(monkeypatch, capsys):
    monkeypatch.setattr(speedups, "bf16_supported", lambda device="cpu": False)
    monkeypatch.setattr(speedups, "_said", set())
    torch.manual_seed(0)
    ids = torch.arange(300) % 5
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=1, n_embd=8))
    cfg = training.TrainConfig(
        max_iters=30,
        batch_size=4,
        lr=1e-2,
        warmup_iters=2,
        eval_interval=30,
        eval_iters=2,
        precision="bfloat16",
    )
    result = training.train(
        model, training.TokenStream(ids[:250], ids[250:], 8), cfg, show_progress=False
    )
    assert result.evals[-1]["val_loss"] < result.evals[0]["val_loss"]
    assert capsys.readouterr().out.count("bfloat16 off") == 1


def _speedrun_model():
    from llmlab import configs

    return GPT(GPTConfig(vocab_size=10, **configs.SPEEDRUN_GPT))


def test_bf16_newton_schulz_kept_only_where_clearly_faster(monkeypatch, capsys):
    monkeypatch.setattr(speedups, "bf16_supported", lambda device="cpu": True)
    monkeypatch.setattr(speedups, "_said", set())
    model = _speedrun_model()
    monkeypatch.setattr(speedups, "_newton_schulz_seconds", lambda dev, stacks: (0.5, 1.0))
    assert speedups.bf16_newton_schulz_pays(model, "cpu")
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(speedups, "_newton_schulz_seconds", lambda dev, stacks: (0.9, 1.0))
    assert not speedups.bf16_newton_schulz_pays(model, "cpu")
    assert not speedups.bf16_newton_schulz_pays(model, "cpu")
    out = capsys.readouterr().out
    assert out.count("stays float32") == 1 and "900.0 ms in bfloat16 against 1000.0 ms" in out
    monkeypatch.setattr(speedups, "bf16_supported", lambda device="cpu": False)
    assert "no bfloat16 matmul" in speedups.bf16_newton_schulz_off(model, "cpu")


def test_newton_schulz_probe_times_the_models_own_shapes(monkeypatch):
    seen = {}

    def fake(device, stacks):
        seen["stacks"] = stacks
        return 1.0, 1.0

    monkeypatch.setattr(speedups, "_newton_schulz_seconds", fake)
    model = _speedrun_model()
    speedups.newton_schulz_seconds(model, "cpu")
    c, n = model.config.n_embd, model.config.n_layer
    # per block: q, k, v, out (c x c) and the MLP's two (c x 4c, 4c x c) on their short side
    assert seen["stacks"] == ((2 * n, c, 4 * c), (4 * n, c, c))


def test_newton_schulz_probe_measures_both_precisions():
    bf16_s, fp32_s = speedups.newton_schulz_seconds(_speedrun_model(), "cpu")
    assert bf16_s > 0 and fp32_s > 0
