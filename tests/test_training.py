"""Tests for llmlab.training: schedule, optimizer groups, batches, the loop, checkpoints."""

import json
import math

import pytest
import torch

from llmlab import configs, training
from llmlab.gpt import GPT, GPTConfig
from llmlab.progress import LiveLossPlot
from llmlab.tokenizers import BPETokenizer, CharTokenizer

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


def tiny_model(vocab_size=30, block_size=16, seed=0):
    torch.manual_seed(seed)
    return GPT(
        GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=1, n_head=2, n_embd=16)
    )


def tiny_setup(max_iters=30, seed=0):
    tok = CharTokenizer.from_text(TEXT)
    train_ids, val_ids = training.split_train_val(tok.encode(TEXT))
    cfg = training.TrainConfig(
        max_iters=max_iters,
        batch_size=4,
        lr=3e-3,
        min_lr=3e-4,
        warmup_iters=5,
        eval_interval=10,
        eval_iters=2,
        seed=seed,
    )
    stream = training.TokenStream(train_ids, val_ids, 16)
    return tok, stream, cfg


# --- schedule -----------------------------------------------------------------


def test_lr_schedule_warmup_then_cosine():
    cfg = training.TrainConfig(max_iters=1000, lr=1e-3, min_lr=1e-4, warmup_iters=100)
    lrs = [training.lr_at(s, cfg) for s in range(1100)]
    assert lrs[0] == pytest.approx(1e-3 / 101)
    assert all(a < b for a, b in zip(lrs[:100], lrs[1:101], strict=True))  # warm-up rises
    assert lrs[100] == pytest.approx(1e-3)  # peak
    assert all(a >= b for a, b in zip(lrs[100:1000], lrs[101:1001], strict=True))  # decays
    midpoint = 100 + (1000 - 100) // 2
    assert lrs[midpoint] == pytest.approx((1e-3 + 1e-4) / 2)  # cosine: half way at the middle
    assert lrs[1000] == lrs[1099] == pytest.approx(1e-4)


def test_train_config_validates():
    with pytest.raises(ValueError, match="min_lr"):
        training.TrainConfig(lr=1e-3, min_lr=1e-2)
    with pytest.raises(ValueError, match="max_iters"):
        training.TrainConfig(max_iters=0)
    cfg = training.TrainConfig(max_iters=7)
    assert training.TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


# --- optimizer ----------------------------------------------------------------


def test_optimizer_decays_only_2d_tensors_and_tied_weight_once():
    model = tiny_model()
    opt = training.configure_optimizer(model, training.TrainConfig(weight_decay=0.1))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    ids = [id(p) for g in opt.param_groups for p in g["params"]]
    assert len(ids) == len(set(ids))  # the tied wte / lm_head matrix appears once
    assert id(model.lm_head.weight) in ids
    n_unique = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == n_unique


# --- data ---------------------------------------------------------------------


def test_split_is_last_ten_percent():
    train, val = training.split_train_val("abcdefghij" * 10)
    assert len(train) == 90 and len(val) == 10
    assert train + val == "abcdefghij" * 10
    with pytest.raises(ValueError):
        training.split_train_val("abc", val_fraction=1.5)


def test_token_stream_targets_are_next_tokens():
    ids = torch.arange(100)
    stream = training.TokenStream(ids[:80], ids[80:], block_size=8)
    g = torch.Generator().manual_seed(0)
    x, y = stream.sample("train", 5, g)
    assert x.shape == y.shape == (5, 8) and x.dtype == torch.long
    assert torch.equal(y, x + 1)  # on arange, the next token is the id plus one
    assert int(x.max()) < 80
    xv, _ = stream.sample("val", 3, g)
    assert int(xv.min()) >= 80
    with pytest.raises(ValueError, match="split"):
        stream.sample("test", 2, g)
    with pytest.raises(ValueError, match="longer text or a smaller block_size"):
        training.TokenStream(ids[:5], ids[80:], block_size=8)


# --- the loop -----------------------------------------------------------------


def test_initial_loss_is_log_vocab_size():
    _, stream, cfg = tiny_setup()
    model = tiny_model(vocab_size=stream.ids["train"].max().item() + 1)
    losses = training.estimate_loss(model, stream, 8, 4)
    v = model.config.vocab_size
    assert losses["val"] == pytest.approx(math.log(v), abs=0.15)


def test_train_lowers_loss_and_reports():
    tok, stream, cfg = tiny_setup(max_iters=60)
    model = tiny_model(vocab_size=tok.vocab_size)
    result = training.train(model, stream, cfg, show_progress=False)
    assert len(result.train_losses) == len(result.lrs) == 60
    assert [e["step"] for e in result.evals] == [0, 10, 20, 30, 40, 50, 60]
    assert result.final_val_loss < result.evals[0]["val_loss"] - 0.5
    assert result.tokens_seen == 60 * 4 * 16
    assert result.tokens_per_s > 0 and result.wall_s > 0
    summary = result.summary()
    assert set(summary) >= {"train_loss", "val_loss", "tokens_per_s", "wall_s"}
    json.dumps(result.to_dict())
    assert not model.training  # handed back in eval mode


def test_train_is_reproducible_with_the_same_seed():
    tok, stream, cfg = tiny_setup(max_iters=15)
    a, b, c = (tiny_model(vocab_size=tok.vocab_size) for _ in range(3))
    ra = training.train(a, stream, cfg, show_progress=False)
    rb = training.train(b, stream, cfg, show_progress=False)
    assert ra.train_losses == rb.train_losses
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    other = training.TrainConfig(**{**cfg.to_dict(), "seed": 1})
    training.train(c, stream, other, show_progress=False)
    assert not torch.equal(a.lm_head.weight, c.lm_head.weight)


def test_train_accepts_masked_targets_and_a_separate_validation_source():
    tok, stream, cfg = tiny_setup(max_iters=3)

    class Masked:  # fine-tuning style: only the second half of each row counts
        block_size = 16

        def sample(self, split, batch_size, generator):
            x = torch.randint(0, tok.vocab_size, (batch_size, 16), generator=generator)
            y = x.roll(-1, dims=1)
            y[:, :8] = -100
            return x, y

    result = training.train(
        tiny_model(vocab_size=tok.vocab_size), Masked(), cfg, show_progress=False
    )
    assert all(math.isfinite(v) for v in result.train_losses)
    # val_batches: the held-out loss comes from its "val" split, the training loss from train_batches
    model = tiny_model(vocab_size=tok.vocab_size)
    result = training.train(model, Masked(), cfg, val_batches=stream, show_progress=False)
    want = training.estimate_loss(model, stream, cfg.batch_size, cfg.eval_iters, cfg.seed + 1)
    assert result.evals[-1]["val_loss"] == pytest.approx(want["val"])
    assert result.evals[-1]["train_loss"] != pytest.approx(want["train"])


def test_train_rejects_bad_input():
    _, stream, cfg = tiny_setup()
    model = tiny_model(block_size=8)
    with pytest.raises(ValueError, match="longer than the model's context"):
        training.train(model, stream, cfg, show_progress=False)
    with pytest.raises(ValueError, match="val_batches hands out rows of 16 tokens"):
        short = training.TokenStream(stream.ids["train"], stream.ids["val"], 8)
        training.train(model, short, cfg, val_batches=stream, show_progress=False)
    with pytest.raises(TypeError, match="sample"):
        training.train(tiny_model(), [1, 2, 3], cfg)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        training.train(tiny_model(), stream, stream.ids["val"])


def test_one_step_matches_torch_adamw_reference():
    # Our step = forward, backward, clip, AdamW. Redo it with torch's plain (for-loop) AdamW.
    tok, stream, cfg = tiny_setup(max_iters=1)
    cfg = training.TrainConfig(**{**cfg.to_dict(), "warmup_iters": 0, "grad_clip": 0.0})
    ours, ref = tiny_model(vocab_size=tok.vocab_size), tiny_model(vocab_size=tok.vocab_size)
    training.train(ours, stream, cfg, show_progress=False)
    x, y = stream.sample("train", cfg.batch_size, torch.Generator().manual_seed(cfg.seed))
    decay = [p for n, p in ref.named_parameters() if p.dim() >= 2]
    other = [p for n, p in ref.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": other, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        foreach=False,
    )
    ref.train()
    _, loss = ref(x, y)
    loss.backward()
    opt.step()
    for (name, pa), pb in zip(ours.state_dict().items(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6, msg=name)


def test_fused_and_foreach_adamw_kernels_train_the_same_model():
    # The default (fused) kernel and the foreach one must agree up to rounding after a few steps.
    tok, stream, cfg = tiny_setup(max_iters=5)
    models = {}
    for fused in (True, False):
        c = training.TrainConfig(**{**cfg.to_dict(), "fused_optimizer": fused})
        opt = training.configure_optimizer(tiny_model(vocab_size=tok.vocab_size), c)
        assert opt.defaults["fused"] is (True if fused else None)
        assert opt.defaults["foreach"] is (None if fused else True)
        models[fused] = tiny_model(vocab_size=tok.vocab_size)
        training.train(models[fused], stream, c, show_progress=False)
    for (name, a), b in zip(
        models[True].state_dict().items(), models[False].state_dict().values(), strict=True
    ):
        if name.endswith("k_proj.bias"):
            # A key bias adds the same amount to every score of a query, which softmax ignores: its
            # true gradient is 0, so it gets rounding noise, which Adam's normalisation blows up to
            # full-size steps of either sign. The two kernels round differently; skip it.
            continue
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7, msg=name)
    assert configs.COURSE_TRAIN.fused_optimizer is False  # the shipped run's kernel, to rebuild it


# --- live plot ----------------------------------------------------------------


def test_live_plot_is_silent_outside_notebooks_and_labels_axes():
    plot = LiveLossPlot()
    assert not plot.enabled
    plot.add("train", 0, 3.0)
    plot.add("train", 1, 2.5)
    plot.refresh()
    plot.finish()  # no-op, no error
    fig = plot.figure()
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert ax.get_legend() is not None
    import matplotlib.pyplot as plt

    plt.close(fig)


# --- checkpoints ----------------------------------------------------------------


def test_checkpoint_round_trip(tmp_path):
    tok = CharTokenizer.from_text(TEXT)
    model = tiny_model(vocab_size=tok.vocab_size)
    training.save_checkpoint(tmp_path, model, tok, {"note": "test", "steps": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    payload = json.loads((tmp_path / "config.json").read_text())
    assert payload["model"]["vocab_size"] == tok.vocab_size
    from safetensors import safe_open

    with safe_open(str(tmp_path / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert len(keys & {"lm_head.weight", "transformer.wte.weight"}) == 1  # tied: stored once

    ck = training.load_checkpoint(tmp_path)
    assert ck.tokenizer == tok and ck.meta == {"note": "test", "steps": 3}
    assert ck.model.lm_head.weight.data_ptr() == ck.model.transformer.wte.weight.data_ptr()
    assert not ck.model.training
    model.eval()
    x = ck.encode("the lazy fox")
    torch.testing.assert_close(ck.model(x)[0], model(x)[0], rtol=0, atol=0)


def test_checkpoint_with_bpe_tokenizer(tmp_path):
    tok = BPETokenizer.train(TEXT, vocab_size=270)
    model = tiny_model(vocab_size=tok.vocab_size)
    training.save_checkpoint(tmp_path, model, tok)
    assert training.load_checkpoint(tmp_path).tokenizer == tok


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        training.load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "other"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="not an llmlab checkpoint"):
        training.load_checkpoint(tmp_path)


def test_course_model_loads():
    ck = training.load_course_model()
    cfg = ck.model.config
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size) == (4, 4, 128, 128)
    assert ck.tokenizer.vocab_size == cfg.vocab_size == 93
    assert "val_loss" in ck.meta["result"]
    logits, _ = ck.model(ck.encode("The history of "))
    assert logits.shape == (1, 15, 93)


def test_missing_course_model_error(monkeypatch, tmp_path):
    monkeypatch.setattr("llmlab.paths.data_dir", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="train_course_model.py"):
        training.load_course_model()
