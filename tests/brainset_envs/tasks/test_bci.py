"""BCI: decoder maths by hand, calibration (a planted manifold is recovered), what the perturbations
permute, the oracle's optimal time, the block schedule and its counters, reset options, rendering."""

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.analysis.bci import span_residual
from brainset_envs.tasks.bci import BLOCKS, CALIBRATION, INTUITIVE, OUTSIDE, WITHIN, BCIEnv
from tests.brainset_envs.task_tables import TaskTables


def run_trial(env, policy):
    """Step ``policy(env)`` until the trial ends; return (steps, terminated, last info, rewards)."""
    rewards = []
    while True:
        _, r, term, trunc, info = env.step(policy(env))
        rewards.append(r)
        if term or trunc:
            return info["steps"], term, info, rewards


def oracle(env):
    return env.oracle_action()


def hand_decoder(env, d, basis, perm_z, perm_u, mu=None):
    """Install a base decoder by hand (an experiment already set up) in a single env."""
    st = env.state
    st["D"][0], st["L"][0] = d, basis
    st["mu"][0] = 0.0 if mu is None else mu
    st["perm_z"][0], st["perm_u"][0] = perm_z, perm_u


def test_decoder_maths_by_hand_on_three_units():
    env = BCIEnv(n_units=3, latent_dim=2, max_speed=0.1)
    env.reset(seed=0)
    d = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    basis = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # the manifold: units 0 and 1
    hand_decoder(env, d, basis, perm_z=[1, 0], perm_u=[2, 0, 1])
    # Intuitive: the velocity set of d over the box [-1, 1]^3 has inradius sqrt(2) (facet normal (1, -1)
    # / sqrt(2): |1| + |-1| + |0| over sqrt(2)); the gain gives it 2 x max_speed.
    env.reset(options={"block": "intuitive", "target": 0})
    g = 2 * 0.1 / np.sqrt(2)
    np.testing.assert_allclose(env.state["M"][0], g * d, rtol=1e-12)
    assert np.array_equal(env.state["b"][0], [0.0, 0.0])
    obs, _, _, _, info = env.step(np.array([0.5, 0.0, 0.0], np.float32))  # raw velocity (0.0707, 0)
    assert (info["x"], info["y"]) == pytest.approx((g * 0.5, 0.0))
    np.testing.assert_allclose(obs, np.array([g * 0.5 / 1.25, 0, g * 0.5 / 0.1, 0, 1 / 1.25, 0], np.float32),
                               rtol=1e-6)
    _, _, _, _, info = env.step(np.array([1.0, 0.0, 1.0], np.float32))  # raw (2g, g): capped at 0.1
    v = np.array([2 * g, g]) / np.hypot(2 * g, g) * 0.1
    assert (info["x"], info["y"]) == pytest.approx((g * 0.5 + v[0], v[1]))
    # Within: D L = I, its factors swapped -> D' = [[0, 1, 0], [1, 0, 0]], inradius 1, gain 0.2.
    env.reset(options={"block": "within"})
    np.testing.assert_allclose(env.state["M"][0], 0.2 * np.array([[0, 1, 0], [1, 0, 0]]), atol=1e-15)
    # Outside: a[perm] replaces a, perm = (2, 0, 1): D' a = D (a2, a0, a1) -> D' = [[0, 1, 1], [1, 1, 0]].
    env.reset(options={"block": "outside"})
    np.testing.assert_allclose(env.state["M"][0], g * np.array([[0, 1, 1], [1, 1, 0]]), rtol=1e-12)
    a = np.array([0.3, -0.2, 0.1], np.float32)
    env.reset(options={"block": "outside"})
    _, _, _, _, info = env.step(a)
    a64 = a.astype(np.float64)
    assert (info["x"], info["y"]) == pytest.approx(tuple(g * d @ a64[[2, 0, 1]]))


def test_offset_makes_the_mean_activity_the_rest_point():
    env = BCIEnv(n_units=3, latent_dim=2)
    env.reset(seed=0)
    mu = np.array([0.2, -0.1, 0.0])
    hand_decoder(env, np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.eye(3)[:, :2], [1, 0], [2, 0, 1], mu)
    for block in ("intuitive", "within"):
        env.reset(options={"block": block})
        _, _, _, _, info = env.step(mu.astype(np.float32))
        assert (info["x"], info["y"]) == pytest.approx((0.0, 0.0), abs=1e-8)
    env.reset(options={"block": "outside"})  # the permuted units rest where a[perm] = mu
    _, _, _, _, info = env.step(mu[np.argsort([2, 0, 1])].astype(np.float32))
    assert (info["x"], info["y"]) == pytest.approx((0.0, 0.0), abs=1e-8)


def _planted_agent(basis, directions, noise, rng):
    """Activity = basis @ (0.4 u, 0.4 u_perp... ) + noise in the planted manifold: the first two planted
    factors carry the direction to the target, the others are noise."""
    def act(env):
        obs = env.unwrapped.core.observe(env.unwrapped.state)[0]
        to = obs[4:6] - obs[0:2]
        u = to / max(np.linalg.norm(to), 1e-9)
        z = rng.normal(0.0, noise, basis.shape[1])
        z[:2] += directions @ u
        return np.clip(basis @ z, -1, 1).astype(np.float32)
    return act


def test_calibration_recovers_a_planted_manifold_and_an_intuitive_decoder():
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(16, 3)))
    env = BCIEnv(latent_dim=3, calibration_trials=8, intuitive_trials=5)
    _, info = env.reset(seed=1)
    assert info["block"] == CALIBRATION and not info["fitted"]
    default = env.state["L"][0].copy()
    agent = _planted_agent(basis, 0.5 * np.eye(2), 0.1, rng)
    for _ in range(8):
        run_trial(env, agent)
        _, info = env.reset()
    assert info["block"] == INTUITIVE and info["fitted"]
    fitted = env.state["L"][0]
    assert span_residual(basis.T, fitted) < 1e-12 and span_residual(fitted.T, basis) < 1e-12  # same span
    assert span_residual(basis.T, default) > 0.3
    # The intuitive decoder moves the cursor where the planted code points.
    m, b = env.state["M"][0], env.state["b"][0]
    for ang in np.linspace(0, 2 * np.pi, 8, endpoint=False):
        u = np.array([np.cos(ang), np.sin(ang)])
        v = m @ (basis[:, :2] @ (0.5 * u) + env.state["mu"][0]) - b
        assert v @ u / np.linalg.norm(v) > 0.999
    # With that code the agent now reaches targets (it never could with the default decoder).
    steps, term, _, _ = run_trial(env, _planted_agent(basis, 2.0 * np.eye(2), 0.0, rng))
    assert term and steps <= 12


def test_degenerate_calibration_keeps_the_default_decoder():
    env = BCIEnv(calibration_trials=2, max_steps=10)
    env.reset(seed=0)
    d = env.state["D"][0].copy()
    for _ in range(2):
        run_trial(env, lambda e: np.full(16, 0.3, np.float32))  # no variance: no manifold to fit
        _, info = env.reset()
    assert info["block"] == INTUITIVE and not info["fitted"]
    assert np.array_equal(env.state["D"][0], d) and np.array_equal(env.state["mu"][0], np.zeros(16))


@pytest.mark.parametrize("fit", [False, True])
def test_within_keeps_the_manifold_span_and_outside_leaves_it(fit):
    env = BCIEnv(calibration_trials=4, max_steps=10)
    env.reset(seed=3)
    if fit:  # a fitted manifold (random activity: the fit keeps a 10-d PCA subspace of it)
        for _ in range(4):
            run_trial(env, lambda e: e.np_random.uniform(-1, 1, 16).astype(np.float32))
            env.reset()
    _, info = env.reset(options={"block": "intuitive"})
    assert info["fitted"] == fit
    st = env.state
    basis, base, mu = st["L"][0], st["D"][0], st["mu"][0]
    intuitive = st["M"][0].copy()
    assert span_residual(intuitive, basis) < 1e-20
    _, info = env.reset(options={"block": "within"})
    assert info["block"] == WITHIN and info["perturbed"]
    within = st["M"][0].copy()
    assert span_residual(within, basis) < 1e-20 and not np.allclose(within, intuitive)
    perm = st["perm_z"][0]
    assert sorted(perm) == list(range(10)) and (perm != np.arange(10)).any()
    latent = within @ basis  # the factors' map, permuted: proportional to (D L)[:, perm]
    want = (base @ basis)[:, perm]
    np.testing.assert_allclose(latent / np.abs(latent).max(), want / np.abs(want).max(), atol=1e-12)
    np.testing.assert_allclose(st["b"][0], within @ mu, atol=1e-14)
    _, info = env.reset(options={"block": "outside"})
    assert info["block"] == OUTSIDE and info["perturbed"]
    outside = st["M"][0].copy()
    assert span_residual(outside, basis) > 0.1
    perm_u = st["perm_u"][0]
    assert (perm_u != np.arange(16)).any()
    a = np.random.default_rng(0).uniform(-1, 1, 16)
    np.testing.assert_allclose(outside @ a, outside[:, perm_u] @ a[perm_u])  # columns moved with the units
    scale = np.abs(outside).max() / np.abs(base).max()
    np.testing.assert_allclose(outside @ a, scale * base @ a[perm_u], rtol=1e-10)  # D' a = g D a[perm]


BLOCK_CASES = ["calibration", "intuitive", "within", "outside"]


@pytest.mark.parametrize("mode", ["cursor", "grating"])
@pytest.mark.parametrize("hold_steps", [1, 3])
def test_oracle_reaches_every_target_in_the_fewest_steps(mode, hold_steps):
    env = BCIEnv(mode=mode, hold_steps=hold_steps)
    n_targets = 8 if mode == "cursor" else 2
    want = (9 if mode == "cursor" else 7) + hold_steps - 1  # ceil((1 - 0.15) / 0.1), ceil((45 - 5) / 6)
    for seed in (0, 1):
        env.reset(seed=seed)
        for block in BLOCK_CASES:
            for k in range(n_targets):
                _, info = env.reset(options={"block": block, "target": k})
                assert info["min_steps"] == want and info["target"] == k
                steps, term, info, rewards = run_trial(env, oracle)
                assert term and steps == want, (block, k, steps)
                assert rewards[-1] == 1.0 and sum(rewards) == 1.0
                if mode == "grating" or block in ("within", "outside"):
                    continue
                assert np.hypot(info["x"] - info["target_x"], info["y"] - info["target_y"]) <= 0.15


def test_oracle_through_a_fitted_day_and_after_it():
    env = BCIEnv(perturbation="outside", calibration_trials=8, intuitive_trials=8, perturbation_trials=8)
    env.reset(seed=5)
    seen = set()
    for _ in range(34):  # 24 trials on day 1, 8 of calibration on day 2, then intuitive
        steps, term, info, _ = run_trial(env, oracle)
        assert term and steps == info["min_steps"] == 9
        seen.add((info["day"], BLOCKS[info["block"]], info["fitted"], info["perturbed"]))
        env.reset()
    assert seen == {(1, "calibration", False, False), (1, "intuitive", True, False), (1, "outside", True, True),
                    (2, "calibration", True, False), (2, "intuitive", True, False)}


def test_observe_calibration_moves_the_cursor_by_itself():
    env = BCIEnv(calibration="observe", calibration_trials=3)
    _, info = env.reset(seed=0)
    for _ in range(3):
        assert info["block"] == CALIBRATION
        steps, term, info, _ = run_trial(env, lambda e: e.np_random.uniform(-1, 1, 16).astype(np.float32))
        assert term and steps == 9
        assert np.hypot(info["x"], info["y"]) == pytest.approx(0.9)  # 9 steps of 0.1 straight at the target
        assert info["x"] * info["target_y"] - info["y"] * info["target_x"] == pytest.approx(0.0, abs=1e-12)
        _, info = env.reset()
    assert info["block"] == INTUITIVE and info["fitted"]  # the recorded random activity was fitted
    steps, term, _, _ = run_trial(env, lambda e: np.zeros(16, np.float32))  # now the agent drives
    assert not term and steps == 50


def test_block_schedule_and_info_counters():
    env = BCIEnv(perturbation="within", calibration_trials=2, intuitive_trials=3, perturbation_trials=2)
    _, info = env.reset(seed=0)
    got = [(info["day"], info["block"], info["trial"])]
    for _ in range(9):
        _, info = env.reset()  # a reset mid-trial starts the next trial
        got.append((info["day"], info["block"], info["trial"]))
    assert got == [(1, 0, 1), (1, 0, 2), (1, 1, 1), (1, 1, 2), (1, 1, 3), (1, 2, 1), (1, 2, 2),
                   (2, 0, 1), (2, 0, 2), (2, 1, 1)]
    none = BCIEnv(calibration_trials=1, intuitive_trials=2)
    _, info = none.reset(seed=0)
    got = [(info["day"], info["block"], info["trial"])]
    for _ in range(4):
        _, info = none.reset()
        got.append((info["day"], info["block"], info["trial"]))
    assert got == [(1, 0, 1), (1, 1, 1), (1, 1, 2), (2, 0, 1), (2, 1, 1)]
    _, info = none.reset(seed=0)  # a seeded reset starts the experiment again
    assert (info["day"], info["block"], info["trial"], info["fitted"]) == (1, 0, 1, False)


def test_each_round_visits_every_target_once():
    env = BCIEnv()
    targets = [env.reset(seed=2)[1]["target"]] + [env.reset()[1]["target"] for _ in range(15)]
    assert sorted(targets[:8]) == sorted(targets[8:]) == list(range(8)) and targets[:8] != targets[8:]


def test_reset_options_jump_between_blocks_per_env():
    envs = gym.make_vec("BrainSet/BCI-v0", num_envs=3, vectorization_mode="vector_entry_point")
    _, info = envs.reset(seed=0, options={"block": ["within", "outside", "calibration"], "target": 4})
    assert info["block"].tolist() == [WITHIN, OUTSIDE, CALIBRATION] and info["target"].tolist() == [4, 4, 4]
    assert info["perturbed"].tolist() == [True, True, False] and info["day"].tolist() == [1, 1, 1]
    _, info = envs.reset(options={"block": "intuitive"})
    assert info["block"].tolist() == [INTUITIVE] * 3 and info["trial"].tolist() == [1, 1, 1]
    _, info = envs.reset()
    assert info["trial"].tolist() == [2, 2, 2]
    for bad, word in [({"block": "washout"}, "block"), ({"block": ["within"] * 2}, "block"),
                      ({"target": 8}, "target"), ({"target": "up"}, "target"), ({"day": 2}, "day")]:
        with pytest.raises((ValueError, TypeError), match=word):
            envs.reset(options=bad)
    env = BCIEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"block": "intuitive", "target": -1})
    _, info = env.reset()  # the rejected options changed nothing
    assert (info["block"], info["trial"]) == (CALIBRATION, 2)


def test_jumping_straight_into_a_perturbation_uses_the_default_manifold():
    env = BCIEnv()
    _, info = env.reset(seed=4, options={"block": "within"})
    assert info["block"] == WITHIN and info["perturbed"] and not info["fitted"]
    basis = env.state["L"][0]
    np.testing.assert_allclose(basis.T @ basis, np.eye(10), atol=1e-12)
    assert span_residual(env.state["M"][0], basis) < 1e-20
    again = BCIEnv()
    again.reset(seed=4)
    assert np.array_equal(again.state["L"][0], basis)  # the default is drawn from the seeded stream
    other = BCIEnv()
    other.reset(seed=5)
    assert not np.allclose(other.state["L"][0], basis)


def test_timeout_without_reward_and_actions_clipped():
    env = BCIEnv(max_steps=12)
    env.reset(seed=0)
    rewards = []
    for t in range(12):  # mu = 0: zero activity is the rest point
        _, r, term, trunc, info = env.step(np.zeros(16, np.float32))
        rewards.append(r)
        assert not term and trunc == (t == 11)
    assert rewards == [0.0] * 12 and (info["x"], info["y"]) == (0.0, 0.0)
    env.reset()
    big = np.full(16, 5.0, np.float32)
    _, _, _, _, a = env.step(big)
    env.reset(seed=0)
    env.reset()
    _, _, _, _, b = env.step(np.ones(16, np.float32))
    assert (a["x"], a["y"]) == (b["x"], b["y"])


def test_rendering_names_the_block_and_highlights_the_target():
    for mode in ("cursor", "grating"):
        env = gym.make("BrainSet/BCI-v0", mode=mode, render_mode="rgb_array")
        env.reset(seed=0, options={"block": "within"})
        frame = env.render()
        assert frame.shape == (420, 360, 3)
        yellow = (frame[..., 0] > 200) & (frame[..., 1] > 170) & (frame[..., 2] < 120)
        orange = (frame[..., 0] > 240) & (frame[..., 1] > 120) & (frame[..., 1] < 180) & (frame[..., 2] < 110)
        assert yellow.sum() > 20 and orange.sum() > 20  # the current target; the perturbation's name
        env.reset(options={"block": "intuitive"})
        assert not np.array_equal(env.render(), frame)
        env.close()


def test_play_keys_are_actions():
    for mode in ("cursor", "grating"):
        env = BCIEnv(mode=mode)
        keys = env.play_keys
        assert "space" in keys and all(env.action_space.contains(a) for a in keys.values())
    assert set(BCIEnv(n_units=4, latent_dim=2).play_keys) == {"space", "1", "2", "3", "4"}


# What the registry-wide tests (tests/brainset_envs/test_conformance.py) need to know about BCI.
CONFORMANCE = TaskTables(
    task="BCI",
    bad_kwargs=[
        ({"mode": "joystick"}, "mode"),
        ({"n_units": 1}, "n_units"),
        ({"n_units": 10_000}, "n_units"),
        ({"latent_dim": 20}, "latent_dim"),
        ({"latent_dim": 1}, "latent_dim"),
        ({"perturbation": "rotation"}, "perturbation"),
        ({"calibration": "none"}, "calibration"),
        ({"calibration_trials": 0}, "calibration_trials"),
        ({"intuitive_trials": -1}, "intuitive_trials"),
        ({"perturbation_trials": 1.5}, "perturbation_trials"),
        ({"n_targets": 1}, "n_targets"),
        ({"target_distance": 0.0}, "target_distance"),
        ({"target_radius": 1.0}, "target_radius"),
        ({"max_speed": 2.0}, "max_speed"),
        ({"mode": "cursor", "max_speed": 0.001}, "max_steps"),
        ({"mode": "grating", "grating_max_turn_deg": 0.5}, "max_steps"),
        ({"grating_units": [0, 1, 2]}, "grating_units"),
        ({"grating_units": [0, 0]}, "grating_units"),
        ({"grating_units": [0, 16]}, "grating_units"),
        ({"grating_target_deg": 90.0}, "grating_target_deg"),
        ({"grating_tolerance_deg": 50.0}, "grating_tolerance_deg"),
        ({"grating_max_turn_deg": 0.0}, "grating_max_turn_deg"),
        ({"max_steps": 5}, "max_steps"),
        ({"hold_steps": 0}, "hold_steps"),
        ({"reward": 1e300}, "reward"),
        ({"step_reward": "none"}, "step_reward"),
    ],
    short_episodes={"max_steps": 12, "calibration_trials": 1, "intuitive_trials": 1, "perturbation_trials": 1},
)
