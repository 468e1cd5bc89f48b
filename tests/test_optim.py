"""Muon (llmlab.optim): Newton-Schulz orthogonalises, a step lowers a loss, the state survives a round trip."""

import copy

import pytest
import torch

from llmlab import training
from llmlab.gpt import GPT, GPTConfig
from llmlab.optim import Muon, build_optimizer, newton_schulz


@pytest.mark.parametrize("shape", [(32, 32), (64, 16), (16, 64)])
def test_newton_schulz_is_near_orthogonal(shape):
    g = torch.Generator().manual_seed(0)
    m = torch.randn(*shape, generator=g)
    x = newton_schulz(m)
    assert x.shape == m.shape
    # every singular value lands near 1 (the quintic trades exactness for speed: about 0.7 to 1.2)
    s = torch.linalg.svdvals(x)
    assert s.min() > 0.6 and s.max() < 1.3
    # same singular vectors as the input: U V^T of the input's SVD, up to that spread
    u, _, vh = torch.linalg.svd(m, full_matrices=False)
    cos = (x * (u @ vh)).sum() / (x.norm() * (u @ vh).norm())
    assert cos > 0.97


def test_newton_schulz_fixes_an_ill_conditioned_matrix():
    g = torch.Generator().manual_seed(1)
    u, _ = torch.linalg.qr(torch.randn(24, 24, generator=g))
    m = u @ torch.diag(torch.logspace(0, -2, 24)) @ u.T  # singular values 1 ... 0.01
    s = torch.linalg.svdvals(newton_schulz(m))
    assert s.max() / s.min() < 2.0  # from a condition number of 100


def test_muon_step_lowers_a_toy_loss():
    torch.manual_seed(0)
    target = torch.randn(16, 8)
    w = torch.nn.Parameter(torch.zeros(16, 8))
    opt = Muon([w], lr=0.1)
    losses = []
    for _ in range(30):
        loss = ((w - target) ** 2).mean()
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[1] < losses[0]
    assert losses[-1] < 0.2 * losses[0]


def test_muon_refuses_non_matrices():
    with pytest.raises(ValueError, match="2-D"):
        Muon([torch.nn.Parameter(torch.zeros(4))])


def _tiny_gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16))


def test_build_optimizer_splits_hidden_matrices_from_the_rest():
    model = _tiny_gpt()
    opt = build_optimizer(model, lr=1e-3, muon_lr=0.02)
    muon, adamw = opt.optimizers
    muon_ids = {id(p) for g in muon.param_groups for p in g["params"]}
    adam_ids = {id(p) for g in adamw.param_groups for p in g["params"]}
    assert not muon_ids & adam_ids
    assert muon_ids | adam_ids == {id(p) for p in model.parameters()}
    assert id(model.lm_head.weight) in adam_ids and id(model.transformer.wpe.weight) in adam_ids
    assert id(model.transformer.h[0].mlp.fc_in.weight) in muon_ids
    assert len(muon_ids) == 2 * 6  # q, k, v, out, fc_in, fc_out per block
    assert [g["lr_scale"] for g in opt.param_groups] == [20.0, 1.0, 1.0]


def _batch():
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 11, (4, 8), generator=g)
    return x, torch.roll(x, -1, dims=1)


def test_state_dict_round_trip_continues_identically():
    x, y = _batch()
    a = _tiny_gpt()
    opt_a = build_optimizer(a, lr=1e-2, muon_lr=0.02)
    for _ in range(3):
        opt_a.zero_grad()
        a(x, y)[1].backward()
        opt_a.step()
    b = _tiny_gpt()
    b.load_state_dict(a.state_dict())
    opt_b = build_optimizer(b, lr=1e-2, muon_lr=0.02)
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))  # as if saved and loaded
    for model, opt in ((a, opt_a), (b, opt_b)):
        opt.zero_grad()
        model(x, y)[1].backward()
        opt.step()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, msg=name)
    # and the momentum really was carried over: a fresh optimizer takes a different step
    c = _tiny_gpt()
    c.load_state_dict(b.state_dict())
    fresh = build_optimizer(c, lr=1e-2, muon_lr=0.02)
    fresh.zero_grad()
    c(x, y)[1].backward()
    fresh.step()
    assert not torch.allclose(
        c.transformer.h[0].mlp.fc_in.weight, b.transformer.h[0].mlp.fc_in.weight
    )


def test_train_with_muon_lowers_the_loss():
    torch.manual_seed(0)
    ids = torch.arange(400) % 7  # a periodic stream: easy to learn
    model = GPT(GPTConfig(vocab_size=7, block_size=16, n_layer=1, n_head=2, n_embd=16))
    cfg = training.TrainConfig(
        max_iters=40,
        batch_size=8,
        lr=3e-3,
        muon_lr=0.03,
        warmup_iters=5,
        eval_interval=40,
        eval_iters=2,
        optimizer="muon",
    )
    result = training.train(
        model, training.TokenStream(ids[:360], ids[360:], 16), cfg, show_progress=False
    )
    assert result.evals[-1]["val_loss"] < 0.7 * result.evals[0]["val_loss"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("optimizer", "sgd"),
        ("precision", "fp8"),
        ("compile", "yes"),
        ("muon_lr", 0),
        ("muon_bf16", 1),
    ],
)
def test_bad_lever_values_are_refused(field, value):
    from llmlab.errors import UsageError

    with pytest.raises(UsageError, match=field):
        training.TrainConfig(**{field: value})


def test_newton_schulz_of_a_stack_is_each_matrix_alone():
    g = torch.Generator().manual_seed(2)
    stack = torch.randn(3, 8, 20, generator=g)
    together = newton_schulz(stack)
    for m, t in zip(stack, together, strict=True):
        torch.testing.assert_close(t, newton_schulz(m), rtol=1e-4, atol=1e-5)


def test_muon_step_matches_the_update_written_out():
    """One step by hand: Nesterov momentum from zero, orthogonalised, scaled by sqrt(rows / cols)."""
    g = torch.Generator().manual_seed(4)
    w0 = torch.randn(12, 4, generator=g)
    grad = torch.randn(12, 4, generator=g)
    w = torch.nn.Parameter(w0.clone())
    w.grad = grad.clone()
    Muon([w], lr=0.1, momentum=0.9).step()
    m = 0.1 * grad  # (1 - beta) g, from a zero buffer
    u = grad + 0.9 * (m - grad)  # Nesterov: g.lerp(m, beta)
    expected = w0 - 0.1 * (12 / 4) ** 0.5 * newton_schulz(u)
    torch.testing.assert_close(w.detach(), expected, rtol=1e-4, atol=1e-5)


def test_newton_schulz_in_bfloat16_is_near_orthogonal_too():
    m = torch.randn(64, 16, generator=torch.Generator().manual_seed(5))
    x = newton_schulz(m, dtype=torch.bfloat16)
    assert x.dtype == torch.float32  # returned in the input's dtype
    s = torch.linalg.svdvals(x)
    assert s.min() > 0.5 and s.max() < 1.4
    cos = (x * newton_schulz(m)).sum() / (x.norm() * newton_schulz(m).norm())
    assert cos > 0.98


def test_build_optimizer_bf16_newton_schulz_switch():
    opt = build_optimizer(_tiny_gpt(), lr=1e-3, ns_bf16=True)
    assert opt.optimizers[0].param_groups[0]["ns_dtype"] == torch.bfloat16
    opt = build_optimizer(_tiny_gpt(), lr=1e-3)
    assert opt.optimizers[0].param_groups[0]["ns_dtype"] == torch.float32
