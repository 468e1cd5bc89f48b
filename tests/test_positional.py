"""Tests of llmlab.positional: sinusoidal table, shift rotation, RoPE, learned positions."""

import math

import numpy as np
import pytest
import torch

from llmlab import positional as P


# --------------------------------------------------------------------------- sinusoidal
def _reference_pe(n_positions, d_model, base=10000.0):
    """Vaswani et al. 2017, section 3.5, written as plain Python loops over pairs i."""
    pe = [[0.0] * d_model for _ in range(n_positions)]
    for pos in range(n_positions):
        for i in range(d_model // 2):
            angle = pos / base ** (2 * i / d_model)
            pe[pos][2 * i] = math.sin(angle)
            pe[pos][2 * i + 1] = math.cos(angle)
    return np.array(pe)


@pytest.mark.parametrize("n,d,base", [(50, 16, 10000.0), (7, 2, 10000.0), (128, 64, 500.0)])
def test_sinusoidal_matches_loop_reference(n, d, base):
    pe = P.sinusoidal(n, d, base=base)
    assert pe.shape == (n, d) and pe.dtype == torch.float32
    np.testing.assert_allclose(pe.numpy(), _reference_pe(n, d, base), atol=1e-6)


def test_sinusoidal_known_values():
    pe = P.sinusoidal(3, 4)
    # pos 0: sin 0 = 0 on even dims, cos 0 = 1 on odd dims
    assert pe[0].tolist() == [0.0, 1.0, 0.0, 1.0]
    # pos 2, pair i=1 of d=4: frequency 10000^(-2/4) = 0.01
    assert pe[2, 2].item() == pytest.approx(math.sin(0.02), abs=1e-7)
    assert pe[2, 3].item() == pytest.approx(math.cos(0.02), abs=1e-7)


@pytest.mark.parametrize("d", [7, 1, 0, -4])
def test_odd_or_bad_d_model_is_a_clear_error(d):
    with pytest.raises(ValueError, match="d_model"):
        P.sinusoidal(10, d)


def test_bad_n_positions_is_a_clear_error():
    with pytest.raises(ValueError, match="n_positions"):
        P.sinusoidal(0, 8)


@pytest.mark.parametrize("k", [1, 3, 17, -5])
def test_shift_is_a_fixed_block_rotation(k):
    d, n = 32, 60
    pe = P.sinusoidal(n + 40, d).double()
    r = P.shift_matrix(k, d).double()
    # one matrix for every pos
    lo = max(0, -k)
    for pos in range(lo, n):
        torch.testing.assert_close(r @ pe[pos], pe[pos + k], atol=1e-5, rtol=0)
    # block diagonal: nothing outside the 2x2 blocks
    mask = torch.block_diag(*[torch.ones(2, 2)] * (d // 2)).bool()
    assert torch.count_nonzero(r[~mask]) == 0
    # each block is a rotation: orthogonal with determinant +1
    for i in range(0, d, 2):
        block = r[i : i + 2, i : i + 2]
        torch.testing.assert_close(
            block @ block.T, torch.eye(2, dtype=block.dtype), atol=1e-6, rtol=0
        )
        assert torch.det(block).item() == pytest.approx(1.0, abs=1e-6)


def test_wavelengths_geometric_from_2pi_to_base_2pi():
    d, base = 512, 10000.0
    w = P.wavelengths(d, base).numpy()
    assert len(w) == d // 2
    assert w[0] == pytest.approx(2 * math.pi)
    ratios = w[1:] / w[:-1]
    np.testing.assert_allclose(ratios, base ** (2 / d), rtol=1e-10)  # constant ratio
    # the last pair (i = d/2 - 1) falls just short of base * 2 pi; the next one would hit it
    assert w[-1] < base * 2 * math.pi
    assert w[-1] * base ** (2 / d) == pytest.approx(base * 2 * math.pi)


def test_wavelength_is_the_period_of_the_table():
    d = 8
    w = P.wavelengths(d)
    # pair 0 has period 2 pi positions: PE is periodic in pos with that period (non-integer pos)
    omega = P.frequencies(d)
    pos = torch.tensor(1.3, dtype=torch.float64)
    assert torch.sin((pos + w[0]) * omega[0]).item() == pytest.approx(
        torch.sin(pos * omega[0]).item()
    )


def test_dot_product_depends_only_on_distance():
    pe = P.sinusoidal(40, 64).double()
    sim = P.position_similarity(pe.float()).double()
    for k in range(0, 10):
        diag = torch.diagonal(sim, offset=k)
        assert float(diag.max() - diag.min()) < 1e-4
    # the value is sum_i cos(k w_i)
    omega = P.frequencies(64)
    assert sim[3, 8].item() == pytest.approx(torch.cos(5 * omega).sum().item(), abs=1e-4)


def test_similarity_by_distance_sinusoidal_formula():
    d = 32
    curve = P.similarity_by_distance(P.sinusoidal(50, d), cosine=False)
    omega = P.frequencies(d)
    for k in [0, 1, 7, 49]:
        assert curve[k].item() == pytest.approx(torch.cos(k * omega).sum().item(), abs=1e-4)
    assert P.similarity_by_distance(torch.randn(10, 4))[0].item() == pytest.approx(1.0)


def test_position_similarity_cosine_diagonal_is_one():
    x = torch.randn(10, 6)
    sim = P.position_similarity(x, cosine=True)
    torch.testing.assert_close(torch.diagonal(sim), torch.ones(10))


# --------------------------------------------------------------------------- RoPE
@pytest.mark.parametrize("interleaved", [True, False])
def test_rope_relative_property(interleaved):
    hd = 16
    q, k = torch.randn(hd, dtype=torch.float64), torch.randn(hd, dtype=torch.float64)

    def score(m, n):
        qm = P.apply_rope(q[None], torch.tensor([m]), interleaved=interleaved)[0]
        kn = P.apply_rope(k[None], torch.tensor([n]), interleaved=interleaved)[0]
        return float(qm @ kn)

    for offset in [0, 1, 5, -3]:
        scores = [score(m, m - offset) for m in [3, 10, 50, 1000]]
        assert max(scores) - min(scores) < 1e-9
    # and it does depend on the offset
    assert abs(score(10, 9) - score(10, 2)) > 1e-3


def test_rope_preserves_norms_and_position_zero_is_identity():
    x = torch.randn(2, 3, 12, 8)
    y = P.apply_rope(x)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(y[..., 0, :], x[..., 0, :])
    assert y.shape == x.shape and y.dtype == x.dtype


def test_rope_matches_paper_2d_rotation():
    # head_dim 2: a plain rotation by m * theta_0 = m radians (Su et al. 2021, section 3.2.1, the 2-D case)
    x = torch.tensor([[1.0, 0.0]] * 4, dtype=torch.float64)
    m = torch.arange(4)
    y = P.apply_rope(x, m)
    expected = torch.stack([torch.cos(m.double()), torch.sin(m.double())], dim=-1)
    torch.testing.assert_close(y, expected)


@pytest.mark.slow  # importing transformers takes ~10 s
def test_rope_rotate_half_matches_hugging_face_llama():
    transformers = pytest.importorskip("transformers")
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    hd, nh, T = 16, 2, 9
    cfg = transformers.LlamaConfig(hidden_size=hd * nh, num_attention_heads=nh, rope_theta=10000.0)
    rotary = LlamaRotaryEmbedding(cfg)
    q, k = torch.randn(1, nh, T, hd), torch.randn(1, nh, T, hd)
    pos = torch.arange(T)[None]
    cos, sin = rotary(q, pos)
    q_ref, k_ref = apply_rotary_pos_emb(q, k, cos, sin)
    torch.testing.assert_close(
        P.apply_rope(q, pos[0], interleaved=False), q_ref, atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(
        P.apply_rope(k, pos[0], interleaved=False), k_ref, atol=1e-5, rtol=1e-5
    )


def test_rope_conventions_equal_up_to_permutation():
    x = torch.randn(5, 7, 12)
    pos = torch.arange(7) + 3
    a = P.interleaved_to_half(P.apply_rope(x, pos, interleaved=True))
    b = P.apply_rope(P.interleaved_to_half(x), pos, interleaved=False)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(P.half_to_interleaved(P.interleaved_to_half(x)), x)


def _meta_apply_rotary_emb(xq, xk, end, theta=10000.0):
    """Meta's reference RoPE, transcribed from github.com/meta-llama/llama, llama/model.py
    (precompute_freqs_cis, reshape_for_broadcast, apply_rotary_emb); x: (B, T, n_heads, head_dim)."""
    dim = xq.shape[-1]
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    freqs = torch.outer(torch.arange(end), freqs).float()
    freqs_cis = torch.polar(torch.ones_like(freqs), freqs)[: xq.shape[1]]  # (T, hd/2) complex64
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    freqs_cis = freqs_cis.view(1, xq_.shape[1], 1, xq_.shape[-1])
    return torch.view_as_real(xq_ * freqs_cis).flatten(3), torch.view_as_real(
        xk_ * freqs_cis
    ).flatten(3)


def _hf_permute(w, n_heads, dim1, dim2):
    """transformers' convert_llama_weights_to_hf.py, ``permute`` ("permute for sliced rotary")."""
    return w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)


def test_rope_complex_matches_meta_reference_and_interleaved():
    torch.manual_seed(0)
    B, T, nh, hd = 2, 9, 3, 16
    xq, xk = torch.randn(B, T, nh, hd), torch.randn(B, T, nh, hd)
    q_ref, k_ref = _meta_apply_rotary_emb(xq, xk, end=2 * T)
    # our functions take (..., seq, head_dim): move the heads before the sequence
    q = P.apply_rope_complex(xq.transpose(1, 2)).transpose(1, 2)
    k = P.apply_rope(xk.transpose(1, 2), interleaved=True).transpose(1, 2)
    torch.testing.assert_close(q, q_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(k, k_ref, atol=1e-5, rtol=1e-5)
    x = torch.randn(4, 11, 8, dtype=torch.float64)
    torch.testing.assert_close(
        P.apply_rope_complex(x, torch.arange(11) + 5), P.apply_rope(x, torch.arange(11) + 5)
    )


def test_permute_for_rotate_half_is_hugging_face_conversion_and_keeps_scores():
    torch.manual_seed(0)
    nh, hd, d_in, T = 4, 8, 20, 7
    wq, wk = (
        torch.randn(nh * hd, d_in, dtype=torch.float64),
        torch.randn(nh * hd, d_in, dtype=torch.float64),
    )
    torch.testing.assert_close(
        P.permute_for_rotate_half(wq, nh), _hf_permute(wq, nh, nh * hd, d_in)
    )
    x = torch.randn(T, d_in, dtype=torch.float64)

    def heads(w):  # (T, nh*hd) -> (nh, T, hd)
        return (x @ w.T).view(T, nh, hd).transpose(0, 1)

    # Meta: adjacent pairs on the original weights; Hugging Face: split halves on the permuted weights
    q_meta, k_meta = P.apply_rope_complex(heads(wq)), P.apply_rope_complex(heads(wk))
    q_hf = P.apply_rope(heads(P.permute_for_rotate_half(wq, nh)), interleaved=False)
    k_hf = P.apply_rope(heads(P.permute_for_rotate_half(wk, nh)), interleaved=False)
    torch.testing.assert_close(
        q_hf, P.interleaved_to_half(q_meta)
    )  # same vectors, dimensions reordered
    torch.testing.assert_close(
        q_hf @ k_hf.transpose(-2, -1), q_meta @ k_meta.transpose(-2, -1)
    )  # same scores
    # without the permutation the split-halves rotation gives different scores
    q_wrong = P.apply_rope(heads(wq), interleaved=False)
    k_wrong = P.apply_rope(heads(wk), interleaved=False)
    assert not torch.allclose(
        q_wrong @ k_wrong.transpose(-2, -1), q_meta @ k_meta.transpose(-2, -1)
    )
    with pytest.raises(ValueError, match="head_dim"):
        P.permute_for_rotate_half(torch.randn(30, 4), 4)


def test_rope_positions_broadcast_and_default():
    x = torch.randn(2, 4, 6, 8)
    torch.testing.assert_close(P.apply_rope(x), P.apply_rope(x, torch.arange(6)))
    # per-batch positions (B, 1, T) broadcast over heads
    pos = torch.stack([torch.arange(6), torch.arange(6) + 10])[:, None, :]
    y = P.apply_rope(x, pos)
    torch.testing.assert_close(y[1], P.apply_rope(x[1], torch.arange(6) + 10))


def test_rope_bad_input_errors():
    with pytest.raises(ValueError, match="even"):
        P.apply_rope(torch.randn(4, 7))
    with pytest.raises(ValueError, match="one entry per token"):
        P.apply_rope(torch.randn(4, 8), torch.arange(5))
    with pytest.raises(ValueError, match="seq, head_dim"):
        P.apply_rope(torch.randn(8))


def test_rope_angles_are_sinusoidal_angles():
    # RoPE uses the same frequencies as the sinusoidal table: cos/sin of its angles are the PE values
    angles = P.rope_angles(torch.arange(20), 10)
    pe = P.sinusoidal(20, 10).double()
    torch.testing.assert_close(torch.sin(angles), pe[:, 0::2], atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.cos(angles), pe[:, 1::2], atol=1e-6, rtol=0)


# --------------------------------------------------------------------------- learned
def test_learned_positions_reads_wpe():
    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = torch.nn.ModuleDict({"wpe": torch.nn.Embedding(12, 6)})

    toy = Toy()
    w = P.learned_positions(toy)
    assert w.shape == (12, 6) and not w.requires_grad
    torch.testing.assert_close(w, toy.transformer.wpe.weight.detach())
    w[0, 0] = 123.0  # a copy: the model is untouched
    assert toy.transformer.wpe.weight[0, 0].item() != 123.0
    with pytest.raises(TypeError, match="wpe"):
        P.learned_positions(torch.nn.Linear(2, 2))


def test_learned_positions_of_a_gpt():
    gpt = pytest.importorskip("llmlab.gpt")
    model = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=16, n_layer=1, n_head=2, n_embd=8))
    assert P.learned_positions(model).shape == (16, 8)


# --------------------------------------------------------------------------- figures
def test_figures_build_with_labels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from llmlab.plots import positional as pp

    pe = P.sinusoidal(30, 16)
    figs = [
        pp.encoding_heatmap(pe),
        pp.dimension_lines(pe, [0, 5]),
        pp.wavelength_plot(16),
        pp.similarity_heatmap(P.position_similarity(pe)),
        pp.learned_vs_sinusoidal(torch.randn(30, 16)),
        pp.rope_2d(),
        pp.embedding_sum(torch.randn(3, 16), pe[:3], ["a", " ", "b"]),
    ]
    for fig in figs:
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            assert ax.get_title() and ax.get_xlabel(), ax
        plt.close(fig)
    with pytest.raises(ValueError, match="dims"):
        pp.dimension_lines(pe, [16])
    with pytest.raises(ValueError, match="labels"):
        pp.embedding_sum(torch.randn(3, 16), pe[:3], ["a"])


def test_interactive_figure_sliders_and_size():
    import plotly.io as pio

    from llmlab.plots import positional as pp

    fig = pp.interactive_sinusoidal(d_models=(8, 16), position_counts=(5, 20))
    d_slider, n_slider = fig.layout.sliders
    assert [s.label for s in d_slider.steps] == ["8", "16"]
    assert [s.label for s in n_slider.steps] == ["5", "20"]
    assert list(d_slider.steps[1].args[0]) == ["d_model=16"]
    frame = {f.name: f for f in fig.frames}["d_model=16"]
    np.testing.assert_allclose(np.asarray(frame.data[0].z), P.sinusoidal(20, 16).numpy(), atol=1e-6)
    assert list(frame.layout.xaxis.range) == [-0.5, 15.5]
    assert n_slider.steps[0].args[0]["yaxis.range"] == [4.5, -0.5]
    assert len(pio.to_json(pp.interactive_sinusoidal())) < 1_000_000  # the default stays lean


# --------------------------------------------------------------------------- exercise checkers
def test_checkers(capsys):
    from llmlab.exercises import positional as ex

    assert ex.check_pe_value(math.cos(0.03))
    assert not ex.check_pe_value(math.sin(3 / 10000 ** (5 / 8)))
    assert "pairs" in capsys.readouterr().out
    assert not ex.check_pe_value(None)

    def paper_table(n, d):  # Vaswani et al. 2017, section 3.5, written out in numpy
        pos, two_i = np.arange(n)[:, None], np.arange(0, d, 2)[None, :]
        table = np.zeros((n, d))
        table[:, 0::2] = np.sin(pos / 10000 ** (two_i / d))
        table[:, 1::2] = np.cos(pos / 10000 ** (two_i / d))
        return table

    assert ex.check_sinusoidal(paper_table)
    assert not ex.check_sinusoidal(lambda n, d: np.zeros((n, d)))
    assert not ex.check_sinusoidal(lambda n, d: 1 / 0)  # a crash is a hint, not a traceback

    def rope_pair(a, b, m, theta):
        c, s = math.cos(m * theta), math.sin(m * theta)
        return a * c - b * s, a * s + b * c

    assert ex.check_rope_pair(rope_pair)
    assert not ex.check_rope_pair(lambda a, b, m, t: (a, b))

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = torch.nn.ModuleDict({"wpe": torch.nn.Embedding(64, 4)})

    assert ex.check_max_positions(64, Toy())
    assert not ex.check_max_positions(65, Toy())
