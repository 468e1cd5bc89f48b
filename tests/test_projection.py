"""Tests for llmlab.projection: PCA against numpy's SVD, t-SNE's affinities and clusters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmlab import projection


def test_pca_matches_numpy_svd():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 10)) @ np.diag(np.arange(10, 0, -1))
    y, explained = projection.pca(x, 3)
    xc = x - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    ref = xc @ vt[:3].T
    assert np.allclose(np.abs(y), np.abs(ref))
    assert np.allclose(y.var(0, ddof=1), s[:3] ** 2 / 39)
    assert np.allclose(explained, s[:3] ** 2 / (s**2).sum())


def test_pca_of_a_tensor_fixes_the_sign_of_each_component():
    x = torch.randn(30, 8, generator=torch.Generator().manual_seed(0)) @ torch.randn(
        8, 8, generator=torch.Generator().manual_seed(1)
    )
    coords, _ = projection.pca(x.requires_grad_())
    mirrored, _ = projection.pca(-x.detach())  # the same components, so mirrored coordinates
    xc = x.detach().double().numpy() - x.detach().double().numpy().mean(0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    for j in range(2):
        loading = vt[j] * np.sign(vt[j][np.abs(vt[j]).argmax()])  # largest loading positive
        np.testing.assert_allclose(coords[:, j], xc @ loading, atol=1e-9)
    np.testing.assert_allclose(mirrored, -coords, atol=1e-9)
    with pytest.raises(ValueError, match="N >= 2"):
        projection.pca(np.zeros((1, 4)))


def test_tsne_affinities_hit_the_perplexity():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 5))
    cond = projection._tsne_affinities(x, perplexity=5.0, symmetric=False)  # (30, 30), rows p_{j|i}
    entropy = -(cond * np.log(np.where(cond > 0, cond, 1.0))).sum(1)
    assert np.allclose(np.exp(entropy), 5.0, rtol=1e-3)
    assert np.allclose(np.diag(cond), 0.0)
    p = projection._tsne_affinities(x, perplexity=5.0)
    assert np.allclose(p, p.T) and p.sum() == pytest.approx(1.0, abs=1e-6)


def test_tsne_keeps_clusters_apart():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 20)) * 5
    x = np.concatenate([c + rng.standard_normal((20, 20)) * 0.3 for c in centres])
    labels = np.repeat(np.arange(3), 20)
    y = projection.tsne(x, 2, perplexity=10, iterations=400)
    d = np.linalg.norm(y[:, None] - y[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(1)] == labels).mean() == 1.0
    assert np.array_equal(y, projection.tsne(x, 2, perplexity=10, iterations=400))


def test_project_rejects_bad_options():
    with pytest.raises(ValueError, match="method"):
        projection.project(np.zeros((5, 3)), "umap")
    with pytest.raises(ValueError, match="dim"):
        projection.project(np.zeros((5, 3)), "pca", dim=4)
