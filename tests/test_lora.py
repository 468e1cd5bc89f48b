"""LoRA (llmlab.lora): starts equal to the base model, trains only adapters, merges exactly."""

import copy

import pytest
import torch
from torch import nn

from llmlab.gpt import GPT, GPTConfig
from llmlab.lora import (
    ALL_LINEAR_TARGETS,
    LoRALinear,
    apply_lora,
    count_total,
    count_trainable,
    lora_layers,
    merge_lora,
)
from llmlab.memory import lora_parameter_count


def small_gpt() -> GPT:
    return GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=32))


def randomise_adapters(model, std=0.05):
    """Give B non-zero values, as training would (B starts at zero)."""
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.normal_(0, std)


def test_lora_linear_computes_w0_plus_scaled_ba_against_explicit_matrix():
    base = nn.Linear(6, 5)
    layer = LoRALinear(base, r=2, alpha=8)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(3, 6)
    W = base.weight + (8 / 2) * layer.lora_B @ layer.lora_A  # (5, 6), written out independently
    torch.testing.assert_close(layer(x), x @ W.T + base.bias)
    assert layer.scaling == 4.0


def test_initialisation_b_zero_a_random():
    layer = LoRALinear(nn.Linear(8, 8), r=4, alpha=4)
    assert torch.count_nonzero(layer.lora_B) == 0
    assert layer.lora_A.std() > 0
    assert layer.lora_A.shape == (4, 8) and layer.lora_B.shape == (8, 4)


def test_at_init_the_lora_model_equals_the_base_model():
    model = small_gpt()
    base = copy.deepcopy(model)
    apply_lora(model, r=4, alpha=8, targets=ALL_LINEAR_TARGETS)
    idx = torch.randint(20, (2, 10))
    torch.testing.assert_close(model(idx)[0], base(idx)[0], rtol=0, atol=0)


def test_only_adapter_parameters_are_trainable():
    model = small_gpt()
    apply_lora(model, r=4, alpha=8, targets=("q_proj", "v_proj"))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.endswith("lora_A") or n.endswith("lora_B") for n in trainable)
    assert len(trainable) == 2 * 2 * 2  # 2 layers x (q, v) x (A, B)
    # a training step leaves every base weight untouched
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    idx = torch.randint(20, (4, 12))
    model(idx, idx)[1].backward()
    opt.step()
    assert all(
        torch.equal(p, frozen[n]) for n, p in model.named_parameters() if not p.requires_grad
    )
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


def test_trainable_count_matches_r_times_d_plus_k():
    model = small_gpt()
    total = count_total(model)
    apply_lora(model, r=4, alpha=8, targets=("q_proj", "v_proj"))
    assert count_trainable(model) == lora_parameter_count([(32, 32)] * 4, r=4) == 4 * 4 * 64
    assert count_total(model) == total + count_trainable(model)


def test_merged_outputs_equal_adapted_outputs():
    model = small_gpt()
    apply_lora(model, r=4, alpha=16, targets=ALL_LINEAR_TARGETS)
    randomise_adapters(model)
    idx = torch.randint(20, (3, 16))
    adapted = model(idx)[0]
    merge_lora(model)
    assert not lora_layers(model)
    assert all(
        type(m) is nn.Linear for n, m in model.named_modules() if n.endswith(ALL_LINEAR_TARGETS)
    )
    torch.testing.assert_close(model(idx)[0], adapted, rtol=0, atol=1e-5)
    assert not torch.allclose(adapted, small_gpt()(idx)[0])  # the adapters did change the function


def test_weight_tying_survives_lora():
    model = small_gpt()
    apply_lora(model, r=2, alpha=2, targets=ALL_LINEAR_TARGETS)
    assert model.lm_head.weight is model.transformer.wte.weight


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="its linear layers are called"):
        apply_lora(small_gpt(), targets=("c_attn",))
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(4, 4), r=0, alpha=1)
    with pytest.raises(ValueError, match="larger than the layer"):
        LoRALinear(nn.Linear(4, 4), r=8, alpha=1)
    model = apply_lora(small_gpt())
    with pytest.raises(ValueError, match="already has LoRA"):
        apply_lora(model)
    with pytest.raises(ValueError, match="no LoRA adapters"):
        merge_lora(small_gpt())
