import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from anogan_jax import gan_metrics


def _random_spd(rng, dim, decay=0.0):
    """A random SPD matrix; eigenvalues decaying like i^-decay make it ill-conditioned."""
    a = rng.normal(size=(dim, dim)) * (np.arange(1, dim + 1) ** (-decay / 2))[None]
    return a @ a.T / dim + 1e-3 * np.eye(dim)


def _frechet_reference(mu1, cov1, mu2, cov2):
    """FID closed form in float64 with scipy's general matrix square root."""
    covmean = scipy.linalg.sqrtm(cov1 @ cov2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2 * covmean))


def test_fid_of_set_with_itself_is_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 64)) @ _random_spd(rng, 64, decay=1.0) + 3.0
    value = gan_metrics.fid(x, x)
    assert value.dtype == jnp.float32
    trace = np.trace(np.cov(x, rowvar=False))
    # float32: |FID(x, x)| stays below 1e-5 of the total variance (~3e-4 here).
    assert abs(float(value)) < 1e-5 * trace


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_of_known_gaussians_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    dim = 16
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim) + 0.5
    cov1, cov2 = _random_spd(rng, dim), _random_spd(rng, dim)
    assert not np.allclose(cov1 @ cov2, cov2 @ cov1)  # the covariances do not commute
    want = _frechet_reference(mu1, cov1, mu2, cov2)
    got = gan_metrics.frechet_distance(mu1, cov1, mu2, cov2)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_frechet_distance_ill_conditioned_stays_accurate_in_float32():
    # Eigenvalues spanning ~5 decades. Routing through eig(sqrt(C1) C2 sqrt(C1)) in float32
    # gives 0.1 for the distance of cov1 to itself; the singular-value route gives ~3e-4.
    rng = np.random.default_rng(3)
    dim = 128
    cov1, cov2 = _random_spd(rng, dim, decay=2.0) * 100, _random_spd(rng, dim, decay=2.0) * 100
    mu = np.zeros(dim)
    want = _frechet_reference(mu, cov1, mu, cov2)
    got = float(gan_metrics.frechet_distance(mu, cov1, mu, cov2))
    assert abs(got - want) < 1e-2
    self_distance = float(gan_metrics.frechet_distance(mu, cov1, mu, cov1))
    assert abs(self_distance) < 1e-2


def test_fid_from_samples_matches_closed_form_on_sample_statistics():
    rng = np.random.default_rng(4)
    dim = 8
    cov_a, cov_b = _random_spd(rng, dim), _random_spd(rng, dim)
    a = rng.multivariate_normal(np.zeros(dim), cov_a, size=400)
    b = rng.multivariate_normal(np.full(dim, 0.3), cov_b, size=300)
    want = _frechet_reference(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    )
    np.testing.assert_allclose(float(gan_metrics.fid(a, b)), want, rtol=1e-5)
    # And the sample estimate is close to the population distance (~2e-2 sampling error).
    population = _frechet_reference(np.zeros(dim), cov_a, np.full(dim, 0.3), cov_b)
    assert abs(want - population) < 0.1 * population


def _mmd_reference(x, y):
    d, m = x.shape[1], len(x)
    k_xx, k_yy, k_xy = ((u @ v.T / d + 1) ** 3 for u, v in ((x, x), (y, y), (x, y)))
    within = k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)
    return within / (m * (m - 1)) - 2 * k_xy.mean()


def test_kid_full_subsets_match_numpy_reference():
    # subset_size is clipped to 40, so every subset is a permutation of the full sets and
    # gives exactly the full-set estimate.
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 6)) + 0.2
    mean, std = gan_metrics.kid(x, y, key=jax.random.key(0), num_subsets=5, subset_size=1000)
    assert mean.dtype == jnp.float32
    np.testing.assert_allclose(float(mean), _mmd_reference(x, y), rtol=1e-4)
    assert float(std) < 1e-5


def test_kid_same_distribution_near_zero_and_shift_positive():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    key = jax.random.key(1)
    mean, std = gan_metrics.kid(x, y, key=key, num_subsets=20, subset_size=200)
    assert float(std) > 0
    assert abs(float(mean)) < 3 * float(std)
    shifted_mean, shifted_std = gan_metrics.kid(
        x, y + 0.5, key=key, num_subsets=20, subset_size=200
    )
    assert float(shifted_mean) > 10 * float(shifted_std)
    assert float(shifted_mean) > 20 * abs(float(mean))
    # Same key, same subsets; another key, other subsets.
    again = gan_metrics.kid(x, y, key=key, num_subsets=20, subset_size=200)
    assert float(again[0]) == float(mean)
    other = gan_metrics.kid(x, y, key=jax.random.key(2), num_subsets=20, subset_size=200)
    assert float(other[0]) != float(mean)


def test_inception_score_uniform_one_hot_is_num_classes():
    num_classes = 5
    # Every split of 10 rows holds each class twice.
    probs = np.tile(np.eye(num_classes), (20, 1))
    mean, std = gan_metrics.inception_score(probs, num_splits=10)
    assert mean.dtype == jnp.float32
    np.testing.assert_allclose(float(mean), num_classes, rtol=1e-6)
    assert float(std) < 1e-6


def test_inception_score_identical_rows_is_one():
    probs = np.tile([0.1, 0.6, 0.3], (50, 1))
    mean, std = gan_metrics.inception_score(probs, num_splits=5)
    np.testing.assert_allclose(float(mean), 1.0, atol=1e-6)
    assert float(std) < 1e-6


def test_inception_score_matches_reference_with_uneven_splits():
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.full(4, 0.3), size=103)
    n, num_splits = len(probs), 10
    scores = []
    for k in range(num_splits):
        part = probs[k * n // num_splits : (k + 1) * n // num_splits]
        kl = np.sum(part * (np.log(part) - np.log(part.mean(0))), axis=1)
        scores.append(np.exp(kl.mean()))
    mean, std = gan_metrics.inception_score(probs, num_splits=num_splits)
    np.testing.assert_allclose(float(mean), np.mean(scores), rtol=1e-5)
    np.testing.assert_allclose(float(std), np.std(scores), rtol=1e-3)


def _parzen_reference(samples, data, sigma):
    """Direct double loop in float64."""
    dim = samples.shape[1]
    total = 0.0
    for x in data:
        density = 0.0
        for s in samples:
            sq = np.sum((x - s) ** 2)
            density += np.exp(-sq / (2 * sigma**2)) / (2 * np.pi * sigma**2) ** (dim / 2)
        total += np.log(density / len(samples))
    return total / len(data)


@pytest.mark.parametrize("sigma", [0.3, 1.0])
def test_parzen_matches_double_loop(sigma):
    rng = np.random.default_rng(8)
    samples, data = rng.normal(size=(7, 3)), rng.normal(size=(11, 3)) + 5.0
    want = _parzen_reference(samples, data, sigma)
    # batch_size 4 does not divide 11: the padded rows must not leak into the mean.
    got = gan_metrics.parzen_log_likelihood(samples, data, sigma, batch_size=4)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
    # Trailing dims are flattened: (N, 3, 1) images give the same number.
    images = gan_metrics.parzen_log_likelihood(samples[..., None], data[..., None], sigma)
    np.testing.assert_allclose(float(images), float(got), rtol=1e-6)


def test_select_parzen_bandwidth_picks_obvious_best():
    rng = np.random.default_rng(9)
    samples, val = rng.normal(size=(2000, 1)), rng.normal(size=(500, 1))
    # Silverman's rule gives ~0.23 for 2000 standard-normal points; 0.01 and 10 are far off.
    candidates = [0.01, 0.2, 10.0]
    best, table = gan_metrics.select_parzen_bandwidth(samples, val, candidates)
    assert best == 0.2
    assert table.shape == (3,) and table.dtype == np.float32
    assert table[1] > table[0] + 0.1 and table[1] > table[2] + 0.1
    for c, ll in zip(candidates, table, strict=True):
        assert ll == float(gan_metrics.parzen_log_likelihood(samples, val, c))


def test_input_errors():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="different feature dims: 3 != 4"):
        gan_metrics.fid(x, np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 samples for a covariance, got 1"):
        gan_metrics.fid(np.zeros((1, 3)), x)
    with pytest.raises(ValueError, match="must be 2-D"):
        gan_metrics.fid(np.zeros(5), x)
    with pytest.raises(ValueError, match=r"cov2 \(F, F\)"):
        gan_metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="different dims: 3 != 2"):
        gan_metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="different feature dims"):
        gan_metrics.kid(x, np.zeros((5, 4)), key=jax.random.key(0))
    with pytest.raises(ValueError, match="subset_size must be >= 2"):
        gan_metrics.kid(x, x, key=jax.random.key(0), subset_size=1)
    with pytest.raises(ValueError, match="num_splits must be in"):
        gan_metrics.inception_score(np.full((3, 2), 0.5), num_splits=4)
    with pytest.raises(ValueError, match="rows summing to 1"):
        gan_metrics.inception_score(np.full((3, 2), 0.7), num_splits=1)
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        gan_metrics.parzen_log_likelihood(x, x, 0.0)
    with pytest.raises(ValueError, match="samples and data have different feature dims"):
        gan_metrics.parzen_log_likelihood(x, np.zeros((5, 4)), 1.0)
    with pytest.raises(ValueError, match="candidates is empty"):
        gan_metrics.select_parzen_bandwidth(x, x, [])
