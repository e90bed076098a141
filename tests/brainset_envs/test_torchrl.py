"""A real Gymnasium client: TorchRL's GymEnv builds every registered id and its specs check out.

TorchRL's ``GymEnv(id)`` passes ``frameskip`` to ``gym.make`` and drops it only when the TypeError has
Python's own wording ("got an unexpected keyword argument 'frameskip'"); our unknown-argument error keeps
that wording, so every id constructs.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest

import brainset_envs

torchrl = pytest.importorskip("torchrl")
from torchrl.envs import GymEnv  # noqa: E402
from torchrl.envs.utils import check_env_specs  # noqa: E402

IDS = brainset_envs.env_ids()


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("env_id", IDS)
def test_gymenv_builds_and_specs_check(env_id):
    env = GymEnv(env_id)
    try:
        env.set_seed(0)
        check_env_specs(env, seed=0)
        td = env.rollout(5, break_when_any_done=False)
        assert td.batch_size[0] == 5
    finally:
        env.close()


def test_frameskip_is_taken_over_by_the_wrapper():
    """TorchRL recognises our TypeError and applies the frame skip itself."""
    with pytest.raises(TypeError, match="got an unexpected keyword argument 'frameskip'"):
        gym.make("BrainSet/PatchForaging-v0", frameskip=2)
    env = GymEnv("BrainSet/PatchForaging-v0", frame_skip=2)
    try:
        assert env.wrapper_frame_skip == 2
        env.set_seed(0)
        check_env_specs(env, seed=0)
    finally:
        env.close()
