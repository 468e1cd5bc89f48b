"""llmlab.gpt: shapes, loss, masks, counts, errors, and logits equal to Hugging Face's GPT-2."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmlab.attention import MultiHeadAttention, padding_mask
from llmlab.gpt import (
    GPT,
    GPTConfig,
    count_parameters,
    gpt2_config,
    load_hf_gpt2,
    meta_model,
)

SMALL = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32)


def test_forward_shapes_and_untrained_loss_near_log_vocab():
    model = GPT(SMALL)
    idx = torch.randint(0, 50, (3, 16))
    logits, loss = model(idx)
    assert logits.shape == (3, 16, 50) and loss is None
    targets = torch.randint(0, 50, (3, 16))
    _, loss = model(idx, targets)
    assert abs(loss.item() - math.log(50)) < 0.3


def test_architecture_names_and_weight_tying():
    model = GPT(SMALL)
    assert model.lm_head.weight is model.transformer.wte.weight
    block = model.transformer.h[0]
    assert isinstance(block.attn, MultiHeadAttention)
    assert block.mlp.fc_in.out_features == 4 * 32 and block.mlp.fc_out.in_features == 4 * 32
    assert isinstance(model.transformer.wpe, torch.nn.Embedding)


def test_gpt2_initialisation():
    config = GPTConfig(vocab_size=500, block_size=64, n_layer=8, n_head=4, n_embd=256)
    model = GPT(config)
    assert abs(model.transformer.h[0].mlp.fc_in.weight.std().item() - 0.02) < 0.002
    resid = 0.02 / math.sqrt(2 * 8)
    assert abs(model.transformer.h[0].mlp.fc_out.weight.std().item() - resid) < 0.001
    assert abs(model.transformer.h[0].attn.out_proj.weight.std().item() - resid) < 0.001
    assert (model.transformer.h[0].attn.q_proj.bias == 0).all()


def test_loss_ignores_minus_100_targets():
    model = GPT(SMALL)
    idx = torch.randint(0, 50, (2, 10))
    targets = torch.randint(0, 50, (2, 10))
    targets[:, :4] = -100  # e.g. a prompt that is not trained on
    logits, loss = model(idx, targets)
    ref = F.cross_entropy(logits[:, 4:].reshape(-1, 50), targets[:, 4:].reshape(-1))
    torch.testing.assert_close(loss, ref)


def test_causal_model_does_not_look_ahead_and_encoder_does():
    idx = torch.randint(0, 50, (1, 10))
    changed = idx.clone()
    changed[0, -1] = (idx[0, -1] + 1) % 50
    model = GPT(SMALL).eval()
    torch.testing.assert_close(model(idx)[0][:, :-1], model(changed)[0][:, :-1])
    encoder = GPT(GPTConfig(**{**SMALL.to_dict(), "causal": False})).eval()
    assert not torch.allclose(encoder(idx)[0][:, 0], encoder(changed)[0][:, 0])


def test_attention_maps_shape_rows_and_causality():
    model = GPT(SMALL).eval()
    maps = model.attention_maps(torch.randint(0, 50, (3, 9)))
    assert maps.shape == (2, 3, 2, 9, 9)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 3, 2, 9))
    assert (maps.triu(1) == 0).all()


def test_padding_mask_leaves_real_tokens_unchanged():
    model = GPT(SMALL).eval()
    idx = torch.randint(0, 50, (1, 8))
    padded = torch.cat([idx, torch.zeros(1, 4, dtype=torch.long)], 1)
    keep = torch.tensor([[1] * 8 + [0] * 4])
    out = model(padded, mask=padding_mask(keep))[0][:, :8]
    torch.testing.assert_close(out, model(idx)[0], atol=1e-5, rtol=1e-5)


def test_bad_inputs_get_clear_errors():
    model = GPT(SMALL)
    with pytest.raises(ValueError, match=r"block_size = 16\): at most 16 tokens"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab_size = 50"):
        model(torch.full((1, 4), 50))
    with pytest.raises(ValueError, match=r"\(batch, seq_len\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        model(torch.zeros(1, 5))
    with pytest.raises(ValueError, match="divisible by n_head"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=3, n_embd=32)


def test_count_parameters_by_component():
    model = GPT(SMALL)
    counts = count_parameters(model)
    C, V, L = 32, 50, 2
    assert counts["embeddings"] == V * C + 16 * C
    assert counts["attention"] == L * 4 * (C * C + C)
    assert counts["mlp"] == L * (C * 4 * C + 4 * C + 4 * C * C + C)
    assert counts["layer_norms"] == (2 * L + 1) * 2 * C
    assert counts["lm_head"] == 0  # tied to the token embedding
    assert counts["total"] == sum(p.numel() for p in model.parameters())  # parameters() dedups ties


def test_gpt2_small_on_meta_device_has_124m_parameters():
    model = meta_model(gpt2_config("gpt2"))
    assert model.lm_head.weight.is_meta
    assert count_parameters(model)["total"] == 124_439_808  # Hugging Face's gpt2: 124M
    assert count_parameters(meta_model(gpt2_config("gpt2-xl")))["total"] == 1_557_611_200


def test_config_round_trip():
    assert GPTConfig.from_dict(SMALL.to_dict()) == SMALL


@pytest.fixture(scope="module")
def hf_gpt2(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=100,
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    hf = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # random LayerNorm parameters too, so that their loading is tested
        for name, p in hf.named_parameters():
            if "ln" in name or name.endswith("bias"):
                p.normal_(0.0, 0.5 if "ln" not in name else 0.2).add_(
                    1.0 if name.endswith("ln_1.weight") else 0.0
                )
    path = tmp_path_factory.mktemp("hf-gpt2")
    hf.save_pretrained(path, safe_serialization=True)
    return hf, path


def test_load_hf_gpt2_logits_equal_transformers(hf_gpt2):
    hf, path = hf_gpt2
    ours = load_hf_gpt2(path)
    assert not ours.training
    assert (
        ours.config.n_layer == 2 and ours.config.block_size == 64 and ours.config.vocab_size == 100
    )
    assert ours.lm_head.weight is ours.transformer.wte.weight
    idx = torch.randint(0, 100, (2, 40))
    with torch.no_grad():
        ref = hf(idx).logits
        logits, _ = ours(idx)
    torch.testing.assert_close(logits, ref, atol=1e-4, rtol=1e-4)
    assert count_parameters(ours)["total"] == sum(p.numel() for p in hf.parameters())


def test_load_hf_gpt2_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_hf_gpt2(tmp_path)


def test_gelu_choice():
    assert GPT(SMALL).transformer.h[0].mlp.gelu.approximate == "tanh"  # GPT-2's
    exact = GPT(GPTConfig(**{**SMALL.to_dict(), "gelu_approximate": "none"}))
    x = torch.randn(50)
    torch.testing.assert_close(exact.transformer.h[0].mlp.gelu(x), F.gelu(x))
    with pytest.raises(ValueError, match="gelu_approximate"):
        GPTConfig(
            vocab_size=10, block_size=8, n_layer=1, n_head=1, n_embd=8, gelu_approximate="fast"
        )
