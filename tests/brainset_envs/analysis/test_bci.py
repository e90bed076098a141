"""BCI ground truth: optimal activity (against a generic solver), velocity-set geometry (against brute force),
fewest steps and the minimum-time path, manifold fits, trials from infos, fraction recovered."""

import itertools

import gymnasium as gym
import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.spatial import ConvexHull

from brainset_envs.analysis.bci import (
    BCITrial,
    Decoder,
    decoder_in_effect,
    fit_manifold,
    fraction_recovered,
    inradius,
    manifold,
    min_steps,
    optimal_activities,
    optimal_activity,
    performance,
    reachable_speed,
    recovered,
    span_residual,
    straight_path,
    target_positions,
    trials_from_infos,
)
from brainset_envs.tasks.bci import INTUITIVE, WITHIN, BCIEnv
from brainset_envs.tasks.bci_decoder import normalise


def random_decoder(seed, n=6, dim=2, offset=0.0, speed=0.1):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(dim, n))
    b = m @ rng.uniform(-offset, offset, n)
    m, b, ok = normalise(m[None], b[None], speed)
    assert ok[0]
    return Decoder(m[0], b[0], speed)


def box_vertices(dec):
    """The velocity set's candidate vertices: M s - b for every sign pattern s."""
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=dec.n_units)))
    return signs @ dec.matrix.T - dec.offset


@pytest.mark.parametrize("seed", range(4))
def test_inradius_and_reachable_speed_match_the_convex_hull(seed):
    dec = random_decoder(seed, offset=0.5)
    hull = ConvexHull(box_vertices(dec))
    # inradius: the distance from 0 to the nearest facet of the hull
    normals, offsets = hull.equations[:, :2], hull.equations[:, 2]
    assert dec.inradius() == pytest.approx(float(np.min(-offsets)), rel=1e-9)
    assert dec.inradius() == pytest.approx(2 * dec.max_speed, rel=1e-12)  # the gain's normalisation
    for ang in np.linspace(0, 2 * np.pi, 13):
        u = np.array([np.cos(ang), np.sin(ang)])
        cos = normals @ u  # the ray t u leaves the hull at the facet reached first
        want = np.min(-offsets[cos > 1e-12] / cos[cos > 1e-12])
        assert reachable_speed(dec, u) == pytest.approx(want, rel=1e-9)


def test_inradius_of_a_grating_decoder_and_of_a_flat_one():
    m = np.array([[[0.5, 0.5, -0.5, -0.5]]])
    assert inradius(m, np.array([[0.0]]))[0] == pytest.approx(2.0)
    assert inradius(m, np.array([[0.5]]))[0] == pytest.approx(1.5)
    flat = np.array([[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]])  # rank one: no 2-D ball fits
    assert inradius(flat, np.zeros((1, 2)))[0] == pytest.approx(0.0, abs=1e-12)
    assert not normalise(flat, np.zeros((1, 2)), 0.1)[2][0]


@pytest.mark.parametrize("seed", range(5))
def test_optimal_activity_is_the_minimum_norm_solution_in_the_box(seed):
    dec = random_decoder(seed, offset=0.3)
    rng = np.random.default_rng(100 + seed)
    for _ in range(3):
        u = rng.normal(size=2)
        v = dec.max_speed * u / np.linalg.norm(u)
        a = optimal_activity(dec, v)
        assert np.all(np.abs(a) <= 1.0) and dec.raw_velocity(a) == pytest.approx(v, abs=1e-12)
        ref = minimize(lambda x: x @ x, np.zeros(dec.n_units), jac=lambda x: 2 * x, method="SLSQP",
                       bounds=[(-1, 1)] * dec.n_units,
                       constraints={"type": "eq", "fun": lambda x, v=v: dec.raw_velocity(x) - v},
                       options={"ftol": 1e-14, "maxiter": 500})
        assert ref.success and a @ a <= ref.x @ ref.x + 1e-9
        np.testing.assert_allclose(a, ref.x, atol=1e-5)


def test_unbounded_optimum_is_the_pseudo_inverse_and_bounds_bind_when_needed():
    dec = random_decoder(0, n=12)
    v = np.array([0.06, -0.08])
    free = optimal_activity(dec, v, bounded=False)
    np.testing.assert_allclose(free, np.linalg.pinv(dec.matrix) @ (v + dec.offset))
    if np.abs(free).max() <= 1.0:  # the pseudo-inverse solution inside the box is the bounded one too
        np.testing.assert_allclose(optimal_activity(dec, v), free, atol=1e-12)
    m = np.array([[1.0, 0.1, 0.1]])  # 1-D: unit 0 saturates, the others make up the rest
    tight = Decoder(m, np.zeros(1), 1.0)
    a = optimal_activity(tight, np.array([1.1]))
    assert a[0] == pytest.approx(1.0) and a[1] == pytest.approx(0.5) and a[2] == pytest.approx(0.5)
    assert np.abs(optimal_activity(tight, np.array([1.1]), bounded=False)).max() > 1.0 - 1e-12
    with pytest.raises(ValueError, match="out of reach"):
        optimal_activity(tight, np.array([1.3]))


def test_min_steps_and_the_straight_path():
    assert min_steps(1.0, 0.15, 0.1).item() == 9
    assert min_steps(45.0, 5.0, 6.0, hold_steps=3).item() == 9
    assert min_steps(np.array([1.0, 0.2, 0.05]), 0.1, 0.1).tolist() == [9, 1, 1]
    path = straight_path(np.zeros(2), np.array([0.6, 0.8]), 0.1, 0.15)
    assert len(path) == 10 and np.linalg.norm(path[-1] - [0.6, 0.8]) <= 0.15
    np.testing.assert_allclose(np.linalg.norm(np.diff(path, axis=0), axis=1), 0.1)


def test_optimal_activities_for_every_target_of_an_env():
    env = gym.make("BrainSet/BCIWithinManifold-v0")
    env.reset(seed=0, options={"block": "within"})
    dec = decoder_in_effect(env)
    targets = target_positions(env)
    acts = optimal_activities(dec, targets)
    assert acts.shape == (8, 16) and np.all(np.abs(acts) <= 1.0)
    vel = dec.velocity(acts)
    np.testing.assert_allclose(vel, 0.1 * targets / np.linalg.norm(targets, axis=1, keepdims=True), atol=1e-12)
    unbounded = optimal_activities(dec, targets, bounded=False)
    np.testing.assert_allclose(dec.raw_velocity(unbounded), vel, atol=1e-12)
    assert np.all(np.linalg.norm(unbounded, axis=1) <= np.linalg.norm(acts, axis=1) + 1e-12)
    basis, mean = manifold(env)
    assert basis.shape == (16, 10) and np.array_equal(mean, np.zeros(16))
    assert span_residual(dec.matrix, basis) < 1e-20
    with pytest.raises(TypeError, match="BCI"):
        decoder_in_effect(gym.make("BrainSet/Bandit-v0"))


def test_fit_manifold_recovers_a_planted_subspace():
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(20, 4)))
    z = rng.normal(size=(500, 4)) * [3.0, 2.0, 1.0, 0.5]
    acts = 0.3 + z @ basis.T + 1e-3 * rng.normal(size=(500, 20))
    got, mean, var = fit_manifold(acts, 4)
    assert span_residual(basis.T, got) < 1e-4 and np.all(np.diff(var) < 0)
    np.testing.assert_allclose(mean, acts.mean(0))
    assert np.all(got[np.abs(got).argmax(0), range(4)] > 0)  # the sign convention
    with pytest.raises(ValueError, match="latent_dim"):
        fit_manifold(acts, 21)


def test_trials_from_infos_and_performance():
    env = BCIEnv(calibration_trials=2, intuitive_trials=2, max_steps=12)
    infos = [env.reset(seed=0)[1]]
    for k in range(4):
        while True:
            act = env.oracle_action() if k % 2 == 0 else np.zeros(16, np.float32)
            _, _, term, trunc, info = env.step(act)
            infos.append(info)
            if term or trunc:
                break
        infos.append(env.reset()[1])
    trials = trials_from_infos(infos)
    assert [(t.block, t.success, t.steps) for t in trials[:4]] == [(0, True, 9), (0, False, 12), (1, True, 9),
                                                                    (1, False, 12)]
    assert trials[-1].steps == 0 and trials[2].block_name == "intuitive"
    np.testing.assert_allclose(performance(trials[:4]), [0.5, 9 / 10.5])
    with pytest.raises(ValueError, match="reset"):
        trials_from_infos(infos[1:])


def _log(block, success, steps):
    return [BCITrial(1, block, k + 1, 0, s, n, 9) for k, (s, n) in enumerate(zip(success, steps, strict=True))]


def test_fraction_recovered_of_a_synthetic_log():
    assert recovered(1.0, 0.2, 0.6) == pytest.approx(0.5)
    assert np.isnan(recovered(0.5, 0.5, 0.7))
    assert recovered([1.0, 1.0], [0.0, 0.5], [0.5, 0.75]) == pytest.approx(0.5)
    pre = _log(INTUITIVE, [True] * 10, [9] * 10)  # success 1, speed 1
    early = _log(WITHIN, [True, False] * 5, [18, 27] * 5)  # success 0.5, speed 9 / 22.5 = 0.4
    late = _log(WITHIN, [True, True, True, False] * 5, [12] * 20)  # success 0.75, speed 0.75
    out = fraction_recovered(pre + early + late, window=8)
    assert out["block"] == "within"
    np.testing.assert_allclose(out["pre"], [1.0, 1.0])
    np.testing.assert_allclose(out["early"], [0.5, 0.4])
    np.testing.assert_allclose(out["late"], [0.75, 0.75])
    assert out["success"] == pytest.approx(0.5) and out["speed"] == pytest.approx(0.35 / 0.6)
    assert out["amount"] == pytest.approx((0.25 * 0.5 + 0.35 * 0.6) / (0.25 + 0.36))
    with pytest.raises(ValueError, match="no within"):
        fraction_recovered(pre)
    with pytest.raises(ValueError, match="intuitive"):
        fraction_recovered(early)
