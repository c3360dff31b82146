"""FID, KID, precision/recall and density/coverage on closed-form and constructed cases."""
import numpy as np
import pytest
import scipy.linalg

from ganforge.metrics.stats import (density_coverage, fid, frechet_distance, gaussian_stats, kid,
                                    precision_recall)


def reference_frechet(mu1, c1, mu2, c2):
    """Independent implementation with scipy's matrix square root."""
    covmean = scipy.linalg.sqrtm(c1 @ c2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1 + c2 - 2 * covmean))


def test_frechet_closed_form_diagonal():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()  # 5 + (1 + 1 + 4)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(11.0)


def test_frechet_matches_scipy_on_random_covariances():
    rng = np.random.default_rng(0)
    for dim in (2, 16, 64):
        a, b = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
        c1, c2 = a @ a.T + 0.1 * np.eye(dim), b @ b.T + 0.1 * np.eye(dim)
        mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
        assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(reference_frechet(mu1, c1, mu2, c2), rel=1e-6)


def test_fid_identity_symmetry_and_rank_deficiency():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(500, 8)), rng.normal(1.0, 2.0, size=(400, 8))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-8)
    assert fid(x, y) == pytest.approx(fid(y, x), rel=1e-9)
    assert fid(x, y) > 10
    few = rng.normal(size=(5, 32))  # fewer samples than dimensions: singular covariance, still finite
    assert np.isfinite(fid(few, rng.normal(size=(6, 32))))
    mu, cov = gaussian_stats(x)
    assert mu.shape == (8,) and cov.shape == (8, 8)


def test_kid_near_zero_for_same_distribution_positive_for_shift():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(1000, 16)), rng.normal(size=(1000, 16))
    same, _ = kid(a, b, n_subsets=20, subset_size=500)
    shifted, _ = kid(a, b + 0.5, n_subsets=20, subset_size=500)
    assert abs(same) < 0.01 and shifted > 0.05


def test_precision_recall_constructed():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(400, 2))
    assert precision_recall(real, real + 1e-9) == pytest.approx((1.0, 1.0))
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)
    half = np.concatenate([real[:200] + 1e-9, far[:200]])  # half the fakes on the real data, half far away
    p, r = precision_recall(real, half)
    assert p == pytest.approx(0.5) and 0.4 < r < 1.0


def test_density_coverage_constructed():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(300, 3))
    d, c = density_coverage(real, real + 1e-9, k=5)
    assert c == 1.0 and 0.8 < d < 1.3  # the same points: density about 1
    d, c = density_coverage(real, np.repeat(real[:1], 10, 0) + 1e-9, k=5)  # all fakes at one point
    assert c < 0.1
    assert density_coverage(real, real + 100.0) == (0.0, 0.0)


def test_bad_features_rejected():
    with pytest.raises(ValueError, match="NaN"):
        fid(np.array([[0.0, np.nan], [1.0, 2.0]]), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\[N >= 2, D\]"):
        fid(np.zeros(5), np.zeros((3, 2)))
