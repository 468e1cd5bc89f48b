"""llmlab.llama against Hugging Face's LlamaForCausalLM (built offline from a small random config)."""

import pytest
import torch

from llmlab import generation, llama, positional, training
from llmlab.gpt import GPT, GPTConfig

transformers = pytest.importorskip("transformers")


def hf_model(tmp_path, n_kv_heads=2, tie=False, rope_theta=500.0, seed=0):
    """A small random HF LLaMA, saved with safetensors; returns (hf model, folder)."""
    cfg = transformers.LlamaConfig(
        vocab_size=61,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=8,
        num_key_value_heads=n_kv_heads,
        max_position_embeddings=64,
        rope_theta=rope_theta,
        rms_norm_eps=1e-5,
        tie_word_embeddings=tie,
    )
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # HF initialises norms to 1: make them random so that they are tested too
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.5 * torch.randn_like(p))
    folder = tmp_path / f"hf-llama-{n_kv_heads}-{tie}"
    model.save_pretrained(folder)
    return model, folder


@pytest.mark.parametrize("n_kv_heads", [8, 2, 1])  # multi-head, grouped-query, multi-query
def test_logits_match_hugging_face(tmp_path, n_kv_heads):
    hf, folder = hf_model(tmp_path, n_kv_heads)
    ours = llama.load_hf_llama(folder)
    assert ours.config.n_kv_head == n_kv_heads
    idx = torch.randint(0, 61, (2, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hf(idx).logits
        got, _ = ours(idx)
    assert (got - expected).abs().max().item() < 1e-4


def test_tied_head_and_kv_cache_match(tmp_path):
    hf, folder = hf_model(tmp_path, n_kv_heads=4, tie=True)
    ours = llama.load_hf_llama(folder)
    assert ours.lm_head.weight is ours.tok_embeddings.weight
    idx = torch.randint(0, 61, (1, 30), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = hf(idx).logits
        cache = ours.new_kv_cache()
        first, _ = ours(idx[:, :20], kv_cache=cache)  # prompt, then one token at a time
        rest = [ours(idx[:, t : t + 1], kv_cache=cache)[0] for t in range(20, 30)]
    got = torch.cat([first, *rest], dim=1)
    assert (got - expected).abs().max().item() < 1e-4
    assert cache[0].k.shape[1] == 4  # the cache holds the 4 key/value heads, not the 8 query heads


def test_rope_pairing_is_split_halves(tmp_path):
    """Interleaved pairs would give different logits: the pairing convention is really tested."""
    hf, folder = hf_model(tmp_path)
    ours = llama.load_hf_llama(folder)
    idx = torch.randint(0, 61, (1, 24), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = hf(idx).logits
        original = positional.apply_rope
        try:  # swap the pairing inside the model: the match must break
            llama.apply_rope = lambda x, pos, base, interleaved: original(
                x, pos, base, interleaved=True
            )
            wrong, _ = ours(idx)
        finally:
            llama.apply_rope = original
    assert (wrong - expected).abs().max().item() > 1e-2


def test_trains_and_generates_like_the_gpt():
    cfg = llama.LlamaConfig(
        vocab_size=20, block_size=16, n_layer=2, n_head=4, n_embd=32, n_kv_head=2
    )
    assert cfg.d_ff == 96  # int(2/3 * 4 * 32) = 85, rounded up to a multiple of 32
    torch.manual_seed(0)
    model = llama.Llama(cfg)
    ids = torch.arange(400) % 20  # a repeating sequence: easy to learn
    tc = training.TrainConfig(max_iters=60, batch_size=8, lr=3e-3, eval_interval=60, eval_iters=2)
    stream = training.TokenStream(ids[:360], ids[360:], model.config.block_size)
    result = training.train(model, stream, tc, show_progress=False)
    assert result.evals[-1]["val_loss"] < 0.5 * result.evals[0]["val_loss"]
    with_cache = generation.generate(model, [0, 1, 2], 20, temperature=0)
    without = generation.generate(model, [0, 1, 2], 20, temperature=0, use_cache=False)
    assert torch.equal(with_cache, without)  # the KV cache with RoPE offsets gives the same tokens


def test_checkpoint_round_trip(tmp_path):
    from llmlab.tokenizers import CharTokenizer

    tok = CharTokenizer.from_text("abcdefgh ")
    model = llama.Llama(llama.LlamaConfig(tok.vocab_size, 16, 1, 2, 16, tie_embeddings=True))
    training.save_checkpoint(tmp_path / "m", model, tok, {"name": "x"})
    back = llama.load_llama_checkpoint(tmp_path / "m")
    idx = torch.tensor([[1, 2, 3]])
    assert torch.equal(back.model(idx)[0], model.eval()(idx)[0])
    training.save_checkpoint(tmp_path / "g", GPT(GPTConfig(tok.vocab_size, 16, 1, 2, 16)), tok)
    with pytest.raises(ValueError, match="does not describe a LLaMA"):
        llama.load_llama_checkpoint(tmp_path / "g")


def test_bad_input_one_line(tmp_path):
    with pytest.raises(ValueError, match="multiple of n_kv_head"):
        llama.LlamaConfig(10, 8, 1, 4, 32, n_kv_head=3)
    with pytest.raises(ValueError, match="even size"):
        llama.LlamaConfig(10, 8, 1, 4, 12)
    model = llama.Llama(llama.LlamaConfig(10, 8, 1, 2, 8))
    with pytest.raises(ValueError, match="0 .. 9"):
        model(torch.tensor([[3, 12]]))
    with pytest.raises(ValueError, match="longer than the model's context"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(FileNotFoundError, match="config.json"):
        llama.load_hf_llama(tmp_path)
    with pytest.raises(ValueError, match="rope_parameters.rope_type"):
        llama.config_from_hf(
            dict(
                vocab_size=10,
                hidden_size=8,
                num_attention_heads=2,
                num_hidden_layers=1,
                intermediate_size=8,
                max_position_embeddings=8,
                rope_parameters={"rope_type": "llama3", "rope_theta": 1e4},
            )
        )


def test_shipped_llama_checkpoint():
    """data/mini-llama: what scripts/train_llama_model.py wrote, with both runs' curves for lesson 07."""
    import hashlib

    from llmlab.paths import data_dir

    folder = data_dir() / "mini-llama"
    ckpt = llama.load_llama_checkpoint(folder)
    meta = ckpt.meta
    assert ckpt.model.config.n_layer == 4 and ckpt.model.config.n_embd == 128
    assert meta["params"] == sum(p.numel() for p in ckpt.model.parameters())
    assert hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest() == meta["sha256"]
    assert [r["label"].split()[0] for r in meta["runs"]] == ["GPT-2", "LLaMA"]
    for run in meta["runs"]:
        assert len(run["step_seconds"]) == meta["train_config"]["max_iters"]
        assert run["evals"][-1]["val_loss"] < run["evals"][0]["val_loss"] - 1.0
    assert meta["sha256"][:16] in (folder / "MODEL_CARD.md").read_text()
