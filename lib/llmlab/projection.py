"""Projections of vectors to 2-D or 3-D for a map: PCA and exact t-SNE (lessons 01 and 02).

Lesson 01 maps word vectors, lesson 02 the learned position vectors of the course model.

==========  ==================================================================
``pca``     principal components and the share of variance each carries
``tsne``    exact t-SNE (van der Maaten and Hinton 2008), for a few hundred points
``project`` either of them to 2-D or 3-D, by name
==========  ==================================================================
"""

from __future__ import annotations

import numpy as np
import torch


def pca(x, dim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Project the rows of ``x`` ``(N, D)`` onto their top ``dim`` principal components.

    Returns ``(coords (N, dim), explained (dim,))``, ``explained`` being the share of
    the variance each component carries.  Centre, then SVD: x - mean = U S V^T; the
    projection is (x - mean) V[:, :dim] and component i carries S_i^2 / sum S^2.
    Signs are fixed so each component's largest loading is positive (SVD's sign is
    arbitrary), so maps do not flip between runs and thread counts.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double()
    else:
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if x.ndim != 2 or x.shape[0] < dim:
        raise ValueError(f"pca needs an (N, D) array with N >= {dim}, got shape {tuple(x.shape)}.")
    xc = x - x.mean(0)  # (N, D)
    _u, s, vt = torch.linalg.svd(xc, full_matrices=False)  # s: (min(N, D),), vt: (min(N, D), D)
    comps = vt[:dim]  # (dim, D)
    signs = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True)))  # (dim, 1)
    variance = s**2
    return (xc @ (comps * signs).T).numpy(), (variance[:dim] / variance.sum()).numpy()


def _tsne_affinities(
    x: np.ndarray, perplexity: float, tol: float = 1e-5, symmetric: bool = True
) -> np.ndarray:
    """Input affinities ``(N, N)``: per-point Gaussians whose entropy matches log(perplexity).

    Row i of the conditional matrix (``symmetric=False``) is p_{j|i}; t-SNE uses
    the symmetric P = (p_{j|i} + p_{i|j}) / 2N.
    """
    n = x.shape[0]
    d2 = np.square(x[:, None, :] - x[None, :, :]).sum(-1)  # (N, N) squared distances
    target = np.log(perplexity)
    p = np.zeros((n, n))
    for i in range(n):
        lo, hi, beta = 0.0, np.inf, 1.0
        di = np.delete(d2[i], i)
        for _ in range(100):  # binary search on the precision beta = 1 / (2 sigma^2)
            w = np.exp(-(di - di.min()) * beta)
            pi = w / w.sum()
            entropy = -np.sum(pi * np.log(np.maximum(pi, 1e-300)))
            if abs(entropy - target) < tol:
                break
            if entropy > target:
                lo, beta = beta, beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi, beta = beta, (beta + lo) / 2
        p[i, np.arange(n) != i] = pi
    if not symmetric:
        return p
    p = (p + p.T) / (2 * n)
    return np.maximum(p, 1e-12)


def tsne(
    x,
    dim: int = 2,
    perplexity: float = 15.0,
    iterations: int = 750,
    learning_rate: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Exact t-SNE (van der Maaten and Hinton 2008) of ``x`` ``(N, D)`` to ``(N, dim)``, for a few hundred points.

    Gaussian affinities with the given perplexity in the input space, a
    Student-t kernel in the map, gradient descent on KL(P || Q) with momentum,
    per-parameter gains and early exaggeration (x12 for the first 250
    iterations), as in the paper.  O(N^2) memory and time per iteration.
    The map starts from the PCA projection scaled down (deterministic); ``seed``
    only adds a tiny jitter to break ties.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 3 or perplexity >= n:
        raise ValueError(
            f"tsne needs more points than the perplexity ({perplexity}); got {n} points."
        )
    x = x / np.linalg.norm(x, axis=1, keepdims=True).clip(
        1e-12
    )  # cosine geometry, as for word vectors
    p = _tsne_affinities(x, perplexity)
    y0, _ = pca(x, dim)
    rng = np.random.default_rng(seed)
    y = 1e-4 * y0 / y0[:, 0].std() + 1e-6 * rng.standard_normal((n, dim))  # (N, dim)
    lr = learning_rate or max(n / 12.0, 50.0)
    velocity, gains = np.zeros_like(y), np.ones_like(y)
    for it in range(iterations):
        exaggeration = 12.0 if it < 250 else 1.0
        momentum = 0.5 if it < 250 else 0.8
        diff = y[:, None, :] - y[None, :, :]  # (N, N, dim)
        num = 1.0 / (1.0 + np.square(diff).sum(-1))  # (N, N) Student-t kernel
        np.fill_diagonal(num, 0.0)
        q = np.maximum(num / num.sum(), 1e-12)
        grad = 4.0 * (((exaggeration * p - q) * num)[:, :, None] * diff).sum(1)  # (N, dim)
        same_sign = np.sign(grad) == np.sign(velocity)
        gains = np.where(same_sign, gains * 0.8, gains + 0.2).clip(0.01)
        velocity = momentum * velocity - lr * gains * grad
        y = y + velocity
        y = y - y.mean(0)
    return y


def project(vectors, method: str = "pca", dim: int = 2, **options) -> np.ndarray:
    """Project ``(N, D)`` vectors to ``(N, dim)`` with ``"pca"`` (default) or ``"tsne"``."""
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim}.")
    if method == "pca":
        return pca(vectors, dim)[0]
    if method == "tsne":
        return tsne(vectors, dim, **options)
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}.")
