"""llmlab.attention against PyTorch's own attention (F.scaled_dot_product_attention, nn.MultiheadAttention)."""

import pytest
import torch
import torch.nn.functional as F

from llmlab.attention import (
    KVCache,
    MultiHeadAttention,
    causal_mask,
    combine_masks,
    padding_mask,
    scaled_dot_product_attention,
)


def qkv(B=2, H=3, T=7, d=8):
    return torch.randn(B, H, T, d), torch.randn(B, H, T, d), torch.randn(B, H, T, d)


def test_causal_mask_is_lower_triangular():
    m = causal_mask(4)
    assert m.dtype == torch.bool
    assert m.tolist() == [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, True],
    ]


def test_padding_mask_and_combination():
    keep = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    pm = padding_mask(keep)
    assert pm.shape == (2, 1, 1, 4)
    both = combine_masks(causal_mask(4), pm)
    assert both.shape == (2, 1, 4, 4)
    assert both[1, 0, 3].tolist() == [True, True, False, False]
    assert both[0, 0, 1].tolist() == [True, True, False, False]
    assert combine_masks(None, None) is None
    with pytest.raises(ValueError, match="batch, seq_len"):
        padding_mask(torch.ones(4))


@pytest.mark.parametrize("kind", ["none", "causal", "padding", "causal+padding"])
def test_math_path_matches_torch_sdpa(kind):
    q, k, v = qkv()
    T = q.size(-2)
    pm = padding_mask(torch.tensor([[1] * T, [1] * 4 + [0] * (T - 4)]))
    mask = {
        "none": None,
        "causal": causal_mask(T),
        "padding": pm,
        "causal+padding": combine_masks(causal_mask(T), pm),
    }[kind]
    out, w = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
    if mask is not None:
        assert (w.masked_select(~mask.expand_as(w)) == 0).all()


def test_math_path_matches_is_causal_and_cross_attention_shapes():
    q, k, v = qkv(T=9)
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(9))
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-5, rtol=1e-5
    )
    # T_q != T_k and a different value size
    out, w = scaled_dot_product_attention(
        torch.randn(2, 3, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 4)
    )
    assert out.shape == (2, 3, 4) and w.shape == (2, 3, 5)


def test_fully_masked_query_gives_zeros_not_nan():
    q, k, v = qkv(T=3)
    mask = torch.tensor([[False, False, False], [True, False, False], [True, True, True]])
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert not out.isnan().any() and not w.isnan().any()
    assert (out[..., 0, :] == 0).all() and (w[..., 0, :] == 0).all()


def test_non_bool_mask_is_rejected():
    q, k, v = qkv(T=3)
    with pytest.raises(ValueError, match="bool"):
        scaled_dot_product_attention(q, k, v, torch.ones(3, 3))


def copy_into_torch_mha(ours: MultiHeadAttention) -> torch.nn.MultiheadAttention:
    ref = torch.nn.MultiheadAttention(ours.d_model, ours.n_heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(
            torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight])
        )
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    return ref.eval()


@pytest.mark.parametrize("causal", [True, False])
def test_mha_matches_torch_multihead_attention(causal):
    mha = MultiHeadAttention(32, 4, causal=causal).eval()
    ref = copy_into_torch_mha(mha)
    x = torch.randn(2, 6, 32)
    y = mha(x)
    w = mha.attention_weights(x)
    attn_mask = ~causal_mask(6) if causal else None  # torch: True = NOT allowed
    y_ref, w_ref = ref(x, x, x, attn_mask=attn_mask, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
    assert w.shape == (2, 4, 6, 6)
    torch.testing.assert_close(w, w_ref, atol=1e-5, rtol=1e-5)


def test_fused_forward_equals_the_explicit_math():
    """forward (PyTorch's kernel) = out_proj(attention_weights @ values), head by head."""
    mha = MultiHeadAttention(16, 4, n_kv_heads=2).eval()
    x = torch.randn(2, 5, 16)
    keep = padding_mask(torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]))
    for mask in (None, keep):
        w = mha.attention_weights(x, mask)  # (B, nh, T, T)
        _, _, v = mha.heads(x)  # (B, nkv, T, hs)
        v = v.repeat_interleave(2, dim=1)  # each value head serves 2 query heads
        by_hand = mha.out_proj((w @ v).transpose(1, 2).reshape(2, 5, 16))
        torch.testing.assert_close(mha(x, mask=mask), by_hand, atol=1e-5, rtol=1e-5)


def test_mha_with_padding_mask_matches_torch():
    mha = MultiHeadAttention(16, 2).eval()
    ref = copy_into_torch_mha(mha)
    x = torch.randn(2, 5, 16)
    keep = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    y = mha(x, mask=padding_mask(keep))
    w = mha.attention_weights(x, mask=padding_mask(keep))
    y_ref, w_ref = ref(
        x,
        x,
        x,
        attn_mask=~causal_mask(5),
        key_padding_mask=keep == 0,
        average_attn_weights=False,
    )
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w, w_ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("n_kv_heads", [4, 2, 1])
def test_grouped_query_attention_equals_mha_with_shared_heads(n_kv_heads):
    """GQA = MHA whose key/value heads are copied across each group of query heads."""
    gqa = MultiHeadAttention(32, 4, n_kv_heads=n_kv_heads).eval()
    assert gqa.k_proj.out_features == n_kv_heads * 8
    full = MultiHeadAttention(32, 4).eval()
    rep = 4 // n_kv_heads
    with torch.no_grad():
        for name in ("q_proj", "out_proj"):
            getattr(full, name).load_state_dict(getattr(gqa, name).state_dict())
        for name in ("k_proj", "v_proj"):
            w = (
                getattr(gqa, name)
                .weight.view(n_kv_heads, 8, 32)
                .repeat_interleave(rep, 0)
                .reshape(32, 32)
            )
            b = getattr(gqa, name).bias.view(n_kv_heads, 8).repeat_interleave(rep, 0).reshape(32)
            getattr(full, name).weight.copy_(w)
            getattr(full, name).bias.copy_(b)
    x = torch.randn(2, 6, 32)
    torch.testing.assert_close(gqa(x), full(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        gqa.attention_weights(x), full.attention_weights(x), atol=1e-5, rtol=1e-5
    )


def test_bad_head_counts_raise_clear_errors():
    with pytest.raises(ValueError, match="divisible by n_heads"):
        MultiHeadAttention(30, 4)
    with pytest.raises(ValueError, match="divisible by n_kv_heads"):
        MultiHeadAttention(32, 4, n_kv_heads=3)


@pytest.mark.parametrize("n_kv_heads", [None, 2])
def test_kv_cache_incremental_equals_full(n_kv_heads):
    mha = MultiHeadAttention(32, 4, n_kv_heads=n_kv_heads).eval()
    x = torch.randn(2, 7, 32)
    full = mha(x)
    cache = KVCache()
    parts = [mha(x[:, :3], cache=cache)]  # a prompt of 3, then one token at a time
    for t in range(3, 7):
        parts.append(mha(x[:, t : t + 1], cache=cache))
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)
    assert len(cache) == 7 and cache.k.shape == (2, n_kv_heads or 4, 7, 8)
    # several new tokens at once on top of a cache need the offset causal mask
    cache2 = KVCache()
    a = mha(x[:, :2], cache=cache2)
    b = mha(x[:, 2:], cache=cache2)
    torch.testing.assert_close(torch.cat([a, b], 1), full, atol=1e-5, rtol=1e-5)


def test_three_projections_equal_one_fused_qkv_product():
    """GPT-2's c_attn (one (C, 3C) product) and our q_proj/k_proj/v_proj compute the same heads."""
    import torch.nn.functional as F

    mha = MultiHeadAttention(32, 4, n_kv_heads=2).eval()
    x = torch.randn(3, 7, 32)
    layers = (mha.q_proj, mha.k_proj, mha.v_proj)
    fused = F.linear(
        x, torch.cat([m.weight for m in layers]), torch.cat([m.bias for m in layers])
    )  # (B, T, C + 2 kv_dim)
    q, k, v = fused.split([32, 16, 16], dim=-1)
    heads = mha.heads(x)  # (B, nh, T, hs), (B, nkv, T, hs) x 2
    for ours, theirs, n in zip(heads, (q, k, v), (4, 2, 2), strict=True):
        torch.testing.assert_close(ours, theirs.view(3, 7, n, 8).transpose(1, 2))
