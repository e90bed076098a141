"""OrientationDiscrimination: the stimulus model, trial logic, options and info."""

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.tasks.orientation import CLOCKWISE, OrientationCore, _BasisCache, gabor, render_gabors
from tests.brainset_envs.task_tables import TaskTables


def test_gabor_orientation_convention():
    # 0 deg = vertical stripes: constant down each column at the centre row band; 90 deg = horizontal.
    g0, g90 = gabor(64, 0.0, 0.08), gabor(64, 90.0, 0.08)
    assert np.abs(np.diff(g0[20:44, 32], axis=0)).max() < 0.05 * np.abs(g0).max()
    assert np.abs(np.diff(g90[32, 20:44])).max() < 0.05 * np.abs(g90).max()
    np.testing.assert_allclose(gabor(64, 90.0, 0.08), g0.T, atol=1e-12)


def test_pixels_follow_the_stimulus_model():
    cache = _BasisCache(32, 0.1)
    rng = np.random.default_rng(0)
    n = 4000
    theta = np.full(n, 10.0)
    phase = np.full(n, 0.3)
    imgs = render_gabors(cache, theta, phase, contrast=0.4, noise_std=0.1, rng=rng).astype(float)
    expect = 128 + 127.5 * gabor(32, 10.0, 0.1, phase=0.3, contrast=0.4).ravel()
    np.testing.assert_allclose(imgs.mean(0), expect - 0.5, atol=1.0)  # floor of x + 0.5 rounds
    assert imgs.std(0).mean() == pytest.approx(127.5 * 0.1, rel=0.05)


def test_one_trial_episode_reward_and_info():
    env = gym.make("BrainSet/OrientationDiscrimination-v0")
    obs, info = env.reset(seed=0)
    assert obs.shape == (64, 64, 1) and obs.dtype == np.uint8
    expected = info["ref_deg"] + (info["offset_deg"] if info["label"] == CLOCKWISE else -info["offset_deg"])
    assert info["orientation_deg"] == pytest.approx(expected)
    assert info["correct"] == -1
    _, r, term, trunc, info2 = env.step(info["label"])
    assert (r, term, trunc, info2["correct"]) == (1.0, True, False, 1)
    env.reset(seed=0)
    _, r, _, _, info3 = env.step(1 - info["label"])
    assert r == 0.0 and info3["correct"] == 0 and info3["answered_label"] == info["label"]


def test_block_of_trials_and_abstain():
    env = gym.make("BrainSet/OrientationDiscrimination-v0", trials_per_episode=5, abstain=True,
                   reward_abstain=0.3)
    assert env.action_space.n == 3
    _, info = env.reset(seed=1)
    labels = []
    for t in range(5):
        labels.append(info["label"])
        _, r, term, _, info = env.step(2)
        assert r == pytest.approx(0.3) and info["correct"] == -1
        assert term == (t == 4)
    assert len(set(labels)) == 2  # both labels appear over a block (seeded)


def test_offsets_and_roving_are_sampled_from_the_lists():
    env = gym.make("BrainSet/OrientationDiscrimination-v0", ref_deg=[0.0, 45.0], offset_deg=[1.0, 4.0])
    seen = set()
    _, info = env.reset(seed=3)
    for _ in range(60):
        seen.add((info["ref_deg"], info["offset_deg"]))
        env.step(0)
        _, info = env.reset()
    assert seen == {(0.0, 1.0), (0.0, 4.0), (45.0, 1.0), (45.0, 4.0)}


@pytest.mark.parametrize("preset, ref, sf", [("ref+45", 45.0, 0.08), ("ref+90", 90.0, 0.08),
                                             ("sf*0.5", 0.0, 0.04), ("sf*2", 0.0, 0.16)])
def test_transfer_presets(preset, ref, sf):
    core = OrientationCore(transfer=preset)
    assert core.ref_choices.tolist() == [ref] and core.sf == pytest.approx(sf)


def test_two_frame_mode_shows_reference_then_test():
    env = gym.make("BrainSet/OrientationDiscriminationPair-v0", noise_std=0.0, phase=0.0)
    obs, info = env.reset(seed=0)
    assert obs.shape == (64, 64, 2)
    ref = np.clip(gabor(64, info["ref_deg"], 0.08, 0.0, 0.5) * 127.5 + 128, 0, 255).astype(np.uint8)
    test = np.clip(gabor(64, info["orientation_deg"], 0.08, 0.0, 0.5) * 127.5 + 128, 0, 255).astype(np.uint8)
    assert np.abs(obs[..., 0].astype(int) - ref).max() <= 1
    assert np.abs(obs[..., 1].astype(int) - test).max() <= 1


def test_easy_config_is_solvable_by_a_template_observer():
    """At 20 deg and low noise, the energy of the stimulus in a +/-20 deg quadrature pair decides the trial."""
    env = gym.make("BrainSet/OrientationDiscriminationEasy-v0")
    from brainset_envs.tasks.orientation import gabor_basis

    bases = {lab: gabor_basis(64, s * 20.0, 0.08).reshape(2, -1) for lab, s in ((0, 1), (1, -1))}
    obs, info = env.reset(seed=0)
    correct = 0
    for _ in range(200):
        x = obs.reshape(-1).astype(float) - 128
        energy = {lab: np.sum((b @ x) ** 2) for lab, b in bases.items()}
        _, r, _, _, _ = env.step(max(energy, key=energy.get))
        correct += r
        obs, info = env.reset()
    assert correct / 200 > 0.95


def test_vector_env_batches_trials_with_different_orientations():
    envs = gym.make_vec("BrainSet/OrientationDiscrimination-v0", num_envs=32)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (32, 64, 64, 1) and obs.dtype == np.uint8
    assert len(np.unique(info["orientation_deg"])) > 3
    obs2, r, term, trunc, info2 = envs.step(info["label"])
    assert np.all(r == 1.0) and np.all(term)
    obs3, r3, term3, _, info3 = envs.step(np.zeros(32, int))  # the autoreset step
    assert np.all(r3 == 0.0) and not term3.any() and np.all(info3["correct"] == -1)


def test_status_line_shows_the_answered_trial_when_the_block_has_ended():
    env = gym.make("BrainSet/OrientationDiscrimination-v0", render_mode="rgb_array")
    _, info = env.reset(seed=0)
    core, state = env.unwrapped.core, env.unwrapped.state
    assert core.status_text(state, 0) == "trial 1/1   last: respond: CW or CCW"
    env.step(info["label"])
    before = {k: np.copy(v) for k, v in state.items()}
    frame = env.render()
    assert core.status_text(state, 0) == "trial 1/1 done   last: correct"  # was "trial 2/1"
    assert frame.shape[2] == 3 and all(np.array_equal(before[k], state[k]) for k in before)  # draw is pure
    block = gym.make("BrainSet/OrientationDiscrimination-v0", trials_per_episode=3)
    _, info = block.reset(seed=1)
    texts = []
    for _ in range(3):
        _, _, term, _, info = block.step(1 - info["label"])
        texts.append(block.unwrapped.core.status_text(block.unwrapped.state, 0))
    assert texts == ["trial 2/3   last: wrong", "trial 3/3   last: wrong",
                     "trial 3/3 done   last: wrong"] and term


# What the registry-wide tests (tests/brainset_envs/test_conformance.py) need to know about OrientationDiscrimination.
CONFORMANCE = TaskTables(
    task="OrientationDiscrimination",
    bad_kwargs=[
        ({"size": "big"}, "size"),
        ({"size": 4}, "size"),
        ({"noise_std": -0.1}, "noise_std"),
        ({"offset_deg": []}, "offset_deg"),
        ({"transfer": "sideways"}, "transfer"),
        ({"contrast": 2.0}, "contrast"),
    ],
    short_episodes={"trials_per_episode": 3},
)


def test_go_nogo_pays_hits_charges_false_alarms_and_nothing_for_no_go():
    """The four outcomes of a Go/NoGo trial, on both stimuli, in the single and the vector env."""
    from brainset_envs.tasks.orientation import GO, NO_GO

    expect = {(0, GO): (1.0, 1), (0, NO_GO): (0.0, 0), (1, GO): (-0.5, 0), (1, NO_GO): (0.0, 1)}
    env = gym.make("BrainSet/OrientationGoNoGo-v0")
    assert env.action_space == gym.spaces.Discrete(2)
    seen = set()
    for seed in range(40):
        _, info = env.reset(seed=seed)
        action = seed % 2
        _, r, term, _, info2 = env.step(action)
        key = (int(info["label"]), action)
        assert (r, info2["correct"]) == expect[key] and term
        seen.add(key)
        assert env.unwrapped.core.status_text(env.unwrapped.state, 0).endswith(
            {(0, GO): "hit", (0, NO_GO): "miss", (1, GO): "false alarm", (1, NO_GO): "correct rejection"}[key])
    assert seen == set(expect)
    venv = gym.make_vec("BrainSet/OrientationGoNoGo-v0", num_envs=64, vectorization_mode="vector_entry_point",
                        size=16)
    _, info = venv.reset(seed=1)
    actions = np.arange(64) % 2
    _, r, _, _, _ = venv.step(actions)
    want = np.array([expect[(int(lab), int(a))][0] for lab, a in zip(info["label"], actions, strict=True)])
    np.testing.assert_array_equal(r, want.astype(np.float32))
    venv.close()


def test_go_nogo_refuses_abstain():
    with pytest.raises(ValueError, match="go_nogo=True with abstain=True"):
        gym.make("BrainSet/OrientationGoNoGo-v0", abstain=True)
    with pytest.raises(TypeError, match="go_nogo=1 must be True or False"):
        gym.make("BrainSet/OrientationDiscrimination-v0", go_nogo=1)
