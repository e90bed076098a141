"""BrainSet environments: Brain Set tasks as fast, batched Gymnasium environments with ground truth.

``import brainset_envs`` registers every ``BrainSet/<Name>-v0`` id;
``gym.make("brainset_envs:BrainSet/<Name>-v0")`` imports this module itself.
"""

from __future__ import annotations

import os

from gymnasium.envs.registration import register, registry

from brainset_envs.core.ids import NAMESPACE, env_ids

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

__version__ = "0.1.0"


def _register(name: str, module: str, env_class: str, kwargs: dict | None = None) -> None:
    """Register ``BrainSet/<name>-v0`` with its single and native vector entry points."""
    env_id = f"{NAMESPACE}/{name}-v0"
    if env_id in registry:
        return
    register(
        id=env_id,
        entry_point=f"brainset_envs.tasks.{module}:{env_class}Env",
        vector_entry_point=f"brainset_envs.tasks.{module}:{env_class}VectorEnv",
        kwargs=kwargs or {},
    )


# One line per registered configuration: (name, task module, class stem, kwargs).
_ENVS: list[tuple[str, str, str, dict]] = [
    ("OrientationDiscrimination", "orientation", "OrientationDiscrimination", {}),
    ("OrientationDiscriminationEasy", "orientation", "OrientationDiscrimination",
     {"offset_deg": 20.0, "noise_std": 0.1}),
    ("OrientationDiscriminationPair", "orientation", "OrientationDiscrimination", {"two_frame": True}),
    ("OrientationGoNoGo", "orientation", "OrientationDiscrimination",
     {"go_nogo": True, "offset_deg": 20.0, "noise_std": 0.1, "reward_wrong": -0.5}),
    ("PatchForaging", "patch_foraging", "PatchForaging", {}),
    ("PatchForagingSteepShort", "patch_foraging", "PatchForaging",
     {"depletion": "steep", "travel_time": 6.0}),
    ("PatchForagingSteepLong", "patch_foraging", "PatchForaging",
     {"depletion": "steep", "travel_time": 12.0}),
    ("PatchForagingShallowShort", "patch_foraging", "PatchForaging",
     {"depletion": "shallow", "travel_time": 6.0}),
    ("PatchForagingShallowLong", "patch_foraging", "PatchForaging",
     {"depletion": "shallow", "travel_time": 12.0}),
    ("PatchForagingMixed", "patch_foraging", "PatchForaging",
     {"depletion": ["steep", "shallow"], "travel_time": [6.0, 12.0], "block_cue": True}),
    ("WaterMaze", "water_maze", "WaterMaze", {}),
    ("WaterMazeReversal", "water_maze", "WaterMaze", {"protocol": "reversal", "reversal_day": 13}),
    ("WaterMazeDMP", "water_maze", "WaterMaze", {"protocol": "dmp"}),
    ("WaterMazeView", "water_maze", "WaterMaze", {"observation": "view"}),
    ("EmpowermentGrid", "empowerment_grid", "EmpowermentGrid", {}),
    ("EmpowermentKlyubinMaze", "empowerment_grid", "EmpowermentGrid", {"layout": "klyubin"}),
    ("EmpowermentFourRooms", "empowerment_grid", "EmpowermentGrid", {"layout": "four_rooms"}),
    ("EmpowermentBoxRoom", "empowerment_grid", "EmpowermentGrid", {"layout": "box_room"}),
    ("ForagingArena", "foraging_arena", "ForagingArena", {}),
    ("ForagingArenaHomeostatic", "foraging_arena", "ForagingArena", {"reward": "homeostatic"}),
    ("Bandit", "bandit", "Bandit", {}),
    ("BanditCorrelated", "bandit", "Bandit", {"correlated": True}),
    ("TwoStep", "two_step", "TwoStep", {}),
    ("TwoStepSwitching", "two_step", "TwoStep", {"common_prob": 0.9, "rewards": "switch"}),
    ("Harlow", "harlow", "Harlow", {}),
    ("HarlowPixels", "harlow", "Harlow", {"observation": "pixels"}),
    ("BCI", "bci", "BCI", {}),
    ("BCIWithinManifold", "bci", "BCI", {"perturbation": "within"}),
    ("BCIOutsideManifold", "bci", "BCI", {"perturbation": "outside"}),
    ("BCIGrating", "bci", "BCI", {"mode": "grating"}),
]

for _name, _module, _cls, _kwargs in _ENVS:
    _register(_name, _module, _cls, _kwargs)


__all__ = ["env_ids", "__version__", "NAMESPACE"]
