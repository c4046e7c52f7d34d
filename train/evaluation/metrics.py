"""Offline image-set metrics: sliced Wasserstein distance on Laplacian-pyramid patches (Karras et
al. 2018, ProGAN), Reinhard colour transfer (the classical baseline), SSIM on luma, edge
correlation, and FID from user-supplied Inception features. numpy/OpenCV only; all on uint8 RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SWD_PATCH = 7
SWD_PATCHES_PER_IMAGE = 128
SWD_REPEATS = 4
SWD_DIRECTIONS = 128
SWD_MIN_RES = 16


def laplacian_pyramid(rgb: np.ndarray, min_res: int = SWD_MIN_RES) -> list[np.ndarray]:
    """Band-pass levels from full resolution down, then the low-pass residual at >= min_res."""
    levels, current = [], rgb.astype(np.float32)
    while min(current.shape[:2]) // 2 >= min_res:
        down = cv2.pyrDown(current)
        up = cv2.pyrUp(down, dstsize=(current.shape[1], current.shape[0]))
        levels.append(current - up)
        current = down
    levels.append(current)
    return levels


def _patches(level: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(level, (SWD_PATCH, SWD_PATCH), axis=(0, 1))  # (H', W', C, 7, 7)
    ys = rng.integers(0, windows.shape[0], count)
    xs = rng.integers(0, windows.shape[1], count)
    return windows[ys, xs]  # (count, C, 7, 7)


@dataclass
class SWDDescriptors:
    """Patch descriptors of one image set, one array per pyramid level."""

    levels: list[np.ndarray]


def swd_descriptors(images: list[np.ndarray], seed: int = 0) -> SWDDescriptors:
    """128 random 7x7 neighbourhoods per image at every pyramid level (all images one size)."""
    rng = np.random.default_rng(seed)
    per_level: list[list[np.ndarray]] = []
    for img in images:
        for i, level in enumerate(laplacian_pyramid(img)):
            if len(per_level) <= i:
                per_level.append([])
            per_level[i].append(_patches(level, SWD_PATCHES_PER_IMAGE, rng))
    return SWDDescriptors([np.concatenate(lv, 0).astype(np.float64) for lv in per_level])


def _normalise(desc: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((desc - mean) / (std + 1e-8)).reshape(desc.shape[0], -1)


def _stats(desc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return desc.mean(axis=(0, 2, 3), keepdims=True), desc.std(axis=(0, 2, 3), keepdims=True)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """Mean over random unit directions of the 1-D Wasserstein distance of the projections."""
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b))
    a = a[rng.choice(len(a), n, replace=False)] if len(a) > n else a
    b = b[rng.choice(len(b), n, replace=False)] if len(b) > n else b
    results = []
    for _ in range(SWD_REPEATS):
        dirs = rng.standard_normal((a.shape[1], SWD_DIRECTIONS))
        dirs /= np.sqrt(np.sum(dirs**2, axis=0, keepdims=True))
        pa, pb = np.sort(a @ dirs, axis=0), np.sort(b @ dirs, axis=0)
        results.append(np.mean(np.abs(pa - pb)))
    return float(np.mean(results))


def swd(fake: SWDDescriptors, real: SWDDescriptors, joint: bool = False) -> list[float]:
    """SWD x 1e3 per level (finest first). ProGAN normalises each set by its own per-channel
    statistics (texture only); `joint=True` uses one normalisation for both (the real set's mean,
    the pooled std), so global colour and contrast differences count as well."""
    out = []
    for i, (f, r) in enumerate(zip(fake.levels, real.levels, strict=True)):
        if joint:
            mean, std = r.mean(axis=(0, 2, 3), keepdims=True), np.concatenate([f, r]).std(axis=(0, 2, 3), keepdims=True)
            fn, rn = _normalise(f, mean, std), _normalise(r, mean, std)
        else:
            fn, rn = _normalise(f, *_stats(f)), _normalise(r, *_stats(r))
        out.append(1e3 * sliced_wasserstein(fn, rn, seed=i))
    return out


def reinhard_transfer(source_rgb: np.ndarray, target_rgb: np.ndarray) -> np.ndarray:
    """Reinhard et al. 2001: match per-channel mean and std in Lab to the target's."""
    src = cv2.cvtColor(source_rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    tgt = cv2.cvtColor(target_rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    s_mean, s_std = src.reshape(-1, 3).mean(0), src.reshape(-1, 3).std(0) + 1e-6
    t_mean, t_std = tgt.reshape(-1, 3).mean(0), tgt.reshape(-1, 3).std(0)
    out = (src - s_mean) / s_std * t_std + t_mean
    rgb = cv2.cvtColor(out.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def ssim_luma(a_rgb: np.ndarray, b_rgb: np.ndarray) -> float:
    """SSIM (Wang et al. 2004, 11x11 Gaussian, sigma 1.5) between the luma of two images."""
    x, y = luma(a_rgb), luma(b_rgb)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    ssim = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return float(ssim.mean())


def edge_correlation(a_rgb: np.ndarray, b_rgb: np.ndarray) -> float:
    """Pearson correlation of the Sobel gradient magnitudes of the two lumas (1 = same edges)."""

    def edges(rgb: np.ndarray) -> np.ndarray:
        y = luma(rgb)
        return np.hypot(cv2.Sobel(y, cv2.CV_64F, 1, 0), cv2.Sobel(y, cv2.CV_64F, 0, 1)).ravel()

    return pearson(edges(a_rgb), edges(b_rgb))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally long 1-D arrays; 0 where either is constant."""
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def sqrt_psd(matrix: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix, its eigenvalues clipped at `floor`."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, floor, None))) @ vectors.T


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), via the symmetric form
    sqrt(S_a) S_b sqrt(S_a), whose eigenvalues are those of S_a S_b."""
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    s_a, s_b = np.cov(feats_a, rowvar=False), np.cov(feats_b, rowvar=False)
    sqrt_a = sqrt_psd(s_a)
    middle = np.linalg.eigvalsh(sqrt_a @ s_b @ sqrt_a)
    tr_covmean = np.sum(np.sqrt(np.clip(middle, 0, None)))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * tr_covmean)
