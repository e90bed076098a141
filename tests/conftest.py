"""Shared test setup: headless pygame, one thread for torch, and per-task tables for the registry tests."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

import brainset_envs  # noqa: E402,F401  (registers the ids)

# Malformed constructor arguments per task (class stem of the entry point): (kwargs, word the error
# message must contain). Every registered task must have an entry: the registry test checks it.
BAD_KWARGS: dict[str, list[tuple[dict, str]]] = {
    "OrientationDiscrimination": [
        ({"size": "big"}, "size"),
        ({"size": 4}, "size"),
        ({"noise_std": -0.1}, "noise_std"),
        ({"offset_deg": []}, "offset_deg"),
        ({"transfer": "sideways"}, "transfer"),
        ({"contrast": 2.0}, "contrast"),
    ],
    "PatchForaging": [
        ({"harvest_time": 0.0}, "harvest_time"),
        ({"travel_time": -1.0}, "travel_time"),
        ({"travel_time": 0.0}, "travel_time"),
        ({"travel_time": []}, "travel_time"),
        ({"depletion": "flat"}, "depletion"),
        ({"depletion": (14.9, -2.0)}, "depletion"),
        ({"depletion": []}, "depletion"),
        ({"richness_sd": -1.0}, "richness_sd"),
        ({"richness_min": 5.0, "richness_max": 4.0}, "richness_max"),
        ({"richness_mean": 20.0}, "richness_mean"),
        ({"reward_floor": "high"}, "reward_floor"),
        ({"block_time": 0.0}, "block_time"),
        ({"arrival_harvest": "yes"}, "arrival_harvest"),
        ({"block_cue": 1}, "block_cue"),
    ],
    "WaterMaze": [
        ({"pool_radius": -1.0}, "pool_radius"),
        ({"platform_radius": 40.0}, "platform_radius"),
        ({"speed": "fast"}, "speed"),
        ({"momentum": 1.0}, "momentum"),
        ({"max_steps": 0}, "max_steps"),
        ({"protocol": "random"}, "protocol"),
        ({"platform": "north"}, "platform"),
        ({"platform": (55.0, 0.0)}, "platform"),
        ({"observation": "pixels"}, "observation"),
        ({"action_type": "torque"}, "action_type"),
        ({"place_cell_width": 0.0}, "place_cell_width"),
        ({"probe_days": 3}, "probe_days"),
        ({"trials_per_day": 0}, "trials_per_day"),
    ],
    "EmpowermentGrid": [
        ({"layout": "moon"}, "layout"),
        ({"layout": "#.\n#"}, "layout row"),
        ({"size": [0, 5]}, "size"),
        ({"observation": "smell"}, "observation"),
        ({"noise": 1.5}, "noise"),
        ({"view_size": 4}, "view_size"),
        ({"start": [0, 99]}, "start"),
        ({"goal": "corner"}, "goal"),
        ({"max_steps": 0}, "max_steps"),
        ({"noisy_tv": "radio"}, "noisy_tv"),
        ({"noisy_tv": "cell"}, "tv_cell"),
        ({"render_heatmap": "rainbow"}, "render_heatmap"),
    ],
    "ForagingArena": [
        ({"n_patches": -1}, "n_patches"),
        ({"n_patches": 1000}, "n_patches"),
        ({"reward": "money"}, "reward"),
        ({"observation": "smell"}, "observation"),
        ({"energy_init": 0.0}, "energy_init"),
        ({"energy_decay": -0.1}, "energy_decay"),
        ({"bite": 0}, "bite"),
        ({"regrow_rate": "fast"}, "regrow_rate"),
        ({"setpoint": 1.5}, "setpoint"),
        ({"view_size": 6}, "view_size"),
        ({"layout": "klyubin", "size": 7}, "size"),
        ({"start": [-1, 0]}, "start"),
    ],
    "Bandit": [
        ({"arms": 1}, "arms"),
        ({"arms": "two"}, "arms"),
        ({"horizon": 0}, "horizon"),
        ({"correlated": 1}, "correlated"),
        ({"correlated": True, "arms": 3}, "correlated"),
        ({"horizon": 10**6, "arms": 64}, "horizon"),
    ],
    "TwoStep": [
        ({"trials": 0}, "trials"),
        ({"common_prob": 0.3}, "common_prob"),
        ({"common_prob": "high"}, "common_prob"),
        ({"rewards": "random"}, "rewards"),
        ({"drift_sd": -0.1}, "drift_sd"),
        ({"reward_min": 0.8, "reward_max": 0.7}, "reward_max"),
        ({"switch_prob": 1.5}, "switch_prob"),
        ({"reward_high": float("nan")}, "reward_high"),
    ],
    "Harlow": [
        ({"trials": 0}, "trials"),
        ({"trials": 2.5}, "trials"),
        ({"observation": "sound"}, "observation"),
        ({"object_size": 4}, "object_size"),
        ({"observation": "pixels", "object_size": 20}, "object_size"),
    ],
}

# Per task: constructor arguments that make episodes short, so the registry tests that compare envs
# through episode ends and autoresets see several of them within a few hundred steps ({} where the
# default episodes are already short). Every registered task must have an entry: the registry test
# checks it.
SHORT_EPISODES: dict[str, dict] = {
    "OrientationDiscrimination": {"trials_per_episode": 3},
    "PatchForaging": {"block_time": 40.0},
    "WaterMaze": {"max_steps": 15, "trials_per_day": 2},
    "EmpowermentGrid": {"max_steps": 12},
    "ForagingArena": {"max_steps": 20},
    "Bandit": {"horizon": 7},
    "TwoStep": {"trials": 4},
    "Harlow": {},
}

# Per task: further constructor arguments (on top of the registered ones and SHORT_EPISODES) under which
# the scalar fast path ``step_one`` is checked against the batch path, for branches no registered
# configuration reaches.
FAST_PATH_VARIANTS: dict[str, list[dict]] = {
    "PatchForaging": [
        {"harvest_time": 2.9, "travel_time": 7.3, "block_time": 50.0, "arrival_harvest": False},
        {"reward_floor": 6.0, "richness_sd": 4.0, "richness_min": 3.0},  # the floor and the clipping act
    ],
    "WaterMaze": [{"action_type": "continuous", "platform": (20.0, -10.0)}, {"platform": (5.0, 5.0)}],
    "ForagingArena": [{"layout": "four_rooms", "n_patches": 6}],
}

# Tasks whose episodes do not depend on the seed at all (fixed start, deterministic dynamics, no
# randomness): for them "different seeds give different episodes" is replaced by "identical episodes".
SEED_INDEPENDENT: set[str] = set()

# Tasks whose first observation carries nothing about the episode by design (meta-RL tasks: the agent
# learns the episode's hidden variables from its own actions and rewards, e.g. a bandit's arms): for them
# "unseeded resets continue the stream" is checked on the reset info (the hidden variables), not on the
# observation alone.
BLIND_START: set[str] = {"Bandit", "TwoStep"}


def task_stem(env_id: str) -> str:
    """Class stem of an id's entry point, e.g. 'OrientationDiscrimination'."""
    import gymnasium as gym

    ep = gym.spec(env_id).entry_point
    return ep.split(":")[1].removesuffix("Env")


@pytest.fixture(autouse=True)
def _torch_one_thread():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    yield


def pytest_addoption(parser):
    parser.addoption("--learning-checks", action="store_true",
                     help="run only the tests of the learned-figure registry (agents.experiments.checks): "
                          "the CI runs them again under MKL_CBWR=COMPATIBLE")


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--learning-checks"):
        return
    from agents.experiments.checks import CHECKS

    wanted = {c.test.removeprefix("tests/") for c in CHECKS.values()}
    ids = {item.nodeid.removeprefix("tests/"): item for item in items}
    missing = sorted(wanted - set(ids))
    if missing:
        raise pytest.UsageError(f"registered learning checks name tests that do not exist: {missing}")
    items[:] = [ids[n] for n in ids if n in wanted]
