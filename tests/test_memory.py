"""Memory accounting (llmlab.memory): the arithmetic agrees with what PyTorch allocates."""

import pytest
import torch

from llmlab import memory
from llmlab.gpt import GPT, GPTConfig
from llmlab.lora import apply_lora
from llmlab.measure import format_bytes
from llmlab.memory import (
    LLAMA2,
    QLORA_BITS,
    lora_parameter_count,
    lora_parameter_count_llama,
    measured_memory,
    parameter_count,
    scale_table,
    training_memory,
)


def small_gpt() -> GPT:
    return GPT(GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=2, n_embd=32))


def one_adamw_step(model):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    idx = torch.randint(30, (2, 8))
    model(idx, idx)[1].backward()
    opt.step()
    return opt


@pytest.mark.parametrize("lora", [False, True])
def test_computed_memory_equals_pytorch_allocations(lora):
    model = small_gpt()
    if lora:
        apply_lora(model, r=4, alpha=8)
    opt = one_adamw_step(model)
    computed, measured = training_memory(model), measured_memory(model, opt)
    assert computed.weights == measured.weights
    assert computed.gradients == measured.gradients
    assert computed.optimizer == measured.optimizer
    assert computed.total == measured.total


def test_full_fine_tuning_costs_16_bytes_per_parameter_lora_far_less():
    full = training_memory(small_gpt())
    n = full.params_total
    assert full.weights == 4 * n and full.gradients == 4 * n
    assert full.optimizer == 8 * n + 4 * len(
        list(small_gpt().parameters())
    )  # + AdamW step counters
    lora_model = apply_lora(small_gpt(), r=2, alpha=2)
    lora = training_memory(lora_model)
    assert lora.weights > full.weights  # the adapters add a little weight...
    assert (
        lora.gradients + lora.optimizer < (full.gradients + full.optimizer) / 10
    )  # ...and save the rest


def test_tied_weights_count_once():
    model = small_gpt()
    shared = model.transformer.wte.weight.numel()
    naive = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert training_memory(model).params_total == naive - shared


def test_measuring_before_a_step_is_a_clear_error():
    model = small_gpt()
    with pytest.raises(ValueError, match="optimizer.step"):
        measured_memory(model, torch.optim.AdamW(model.parameters()))


@pytest.mark.parametrize("name", list(LLAMA2))
def test_llama2_parameter_counts_match_hugging_faces_llama(name):
    """Our count from the layer sizes, and the table's, against transformers' LlamaForCausalLM.

    The model is built on the meta device: shapes only, no memory.
    """
    transformers = pytest.importorskip("transformers")
    cfg = LLAMA2[name]
    with torch.device("meta"):
        reference = transformers.LlamaForCausalLM(
            transformers.LlamaConfig(
                hidden_size=cfg.d_model,
                intermediate_size=cfg.d_ff,
                num_hidden_layers=cfg.n_layer,
                num_attention_heads=cfg.n_head,
                num_key_value_heads=cfg.n_kv_head,
                vocab_size=cfg.vocab_size,
                tie_word_embeddings=False,
            )
        )
    n = sum(p.numel() for p in reference.parameters())
    assert parameter_count(cfg) == n
    assert cfg.published_params == n


def test_lora_parameter_count_by_hand():
    # one 768 x 768 layer at r = 8: B (768 x 8) + A (8 x 768) = 12,288
    assert lora_parameter_count([(768, 768)], r=8) == 12_288
    assert lora_parameter_count([(768, 768), (3072, 768)], r=1) == 1_536 + 3_840
    assert lora_parameter_count([], r=8) == 0


def test_llama2_lora_adapter_size_by_hand():
    cfg = LLAMA2["LLaMA 2 7B"]
    # r = 16 on W_q and W_v (4096 x 4096 each) in 32 blocks: 32 * 2 * 16 * (4096 + 4096)
    assert lora_parameter_count_llama(cfg, r=16) == 8_388_608
    # 70B uses grouped-query attention: v_proj maps 8192 -> 8 heads x 128 = 1024
    assert lora_parameter_count_llama(LLAMA2["LLaMA 2 70B"], r=1, targets=("v_proj",)) == 80 * (
        1024 + 8192
    )
    with pytest.raises(ValueError, match="Unknown LLaMA layer"):
        lora_parameter_count_llama(cfg, targets=("c_attn",))


def test_scale_table_arithmetic():
    rows = {r.label: r for r in scale_table(r=16)}
    n = LLAMA2["LLaMA 2 7B"].published_params
    assert rows["LLaMA 2 7B: full, mixed precision"].total == 16 * n  # ZeRO: 2 + 2 + 12 bytes
    assert rows["LLaMA 2 7B: full, fp32"].total == 16 * n
    lora = rows["LLaMA 2 7B: LoRA r=16, 16-bit base"]
    assert lora.total == 2 * n + 16 * 8_388_608
    qlora = rows["LLaMA 2 7B: QLoRA r=16, 4-bit base"]
    assert qlora.total < lora.total / 3
    assert QLORA_BITS == pytest.approx(
        4.127, abs=1e-3
    )  # Dettmers et al. 2023: 0.127 bits of constants
    # 70B full fine-tuning needs over a terabyte of model states; QLoRA fits a 48 GB card
    assert rows["LLaMA 2 70B: full, mixed precision"].total > 1e12
    assert rows["LLaMA 2 70B: QLoRA r=16, 4-bit base"].total < 48e9


# --- the KV cache, computed by hand ------------------------------------------


def test_kv_cache_llama2_7b_by_hand():
    # 2 (K, V) x 32 layers x 32 KV heads x 128 dims (4096 / 32) x 2 bytes (fp16)
    assert memory.LLAMA2_7B.head_dim == 128
    per_token = memory.kv_cache_bytes_per_token(32, 32, 128, 2)
    assert per_token == 2 * 32 * 32 * 128 * 2 == 524_288  # 512 KiB
    assert format_bytes(per_token) == "512.00 KiB"


def test_kv_cache_llama2_70b_with_and_without_gqa_by_hand():
    assert memory.LLAMA2_70B.head_dim == 8192 // 64 == 128
    with_gqa = memory.kv_cache_bytes_per_token(80, 8, 128, 2)
    without = memory.kv_cache_bytes_per_token(80, 64, 128, 2)
    assert with_gqa == 327_680  # 320 KiB
    assert without == 2_621_440  # 2.5 MiB
    assert without / with_gqa == 8  # 64 query heads share 8 KV heads


def test_kv_cache_table_rows():
    rows = memory.kv_cache_table(context_len=4096)
    by_key = {(r.model, r.n_kv_heads): r for r in rows}
    assert {(r.model, r.attention) for r in rows} == {
        ("LLaMA 2 7B", "MHA"),
        ("LLaMA 2 7B", "GQA-8"),
        ("LLaMA 2 7B", "MQA"),
        ("LLaMA 2 70B", "MHA"),
        ("LLaMA 2 70B", "GQA-8"),
        ("LLaMA 2 70B", "MQA"),
    }
    published = {r.model: r.attention for r in rows if r.published}
    assert published == {"LLaMA 2 7B": "MHA", "LLaMA 2 70B": "GQA-8"}
    # a full 4096-token context: 7B MHA 2 GiB, 70B GQA 1.25 GiB, 70B without GQA 10 GiB
    assert by_key[("LLaMA 2 7B", 32)].bytes_per_sequence == 2 * 1024**3
    assert by_key[("LLaMA 2 70B", 8)].bytes_per_sequence == 1.25 * 1024**3
    assert by_key[("LLaMA 2 70B", 64)].bytes_per_sequence == 10 * 1024**3
    assert by_key[("LLaMA 2 70B", 1)].bytes_per_token == 2 * 80 * 1 * 128 * 2


def test_kv_cache_bad_input():
    with pytest.raises(ValueError, match="n_kv_heads must be a positive whole number"):
        memory.kv_cache_bytes_per_token(32, 0, 128)
    with pytest.raises(ValueError, match="cannot be split into 3 KV groups"):
        memory.kv_cache_table(kv_heads=[3])
