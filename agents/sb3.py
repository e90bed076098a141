"""Our architectures as Stable-Baselines3 features extractors.

```python
from stable_baselines3 import PPO
from agents.sb3 import BrainSetExtractor

model = PPO("CnnPolicy", "BrainSet/OrientationDiscriminationEasy-v0",
            policy_kwargs=dict(features_extractor_class=BrainSetExtractor,
                               features_extractor_kwargs=dict(arch="hierarchical")))
```

SB3 hands the extractor preprocessed observations (images channel-first and scaled to [0, 1], Discrete
one-hot, Dict per key); the extractor is our :class:`agents.architectures.Encoder` on them, so the
named stages (``V1`` ... ``IT``, ``fc1`` ...) are the same and readable with :meth:`activations`.
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

import brainset_envs  # noqa: F401  (registers the BrainSet ids for SB3's make_vec_env)
from agents.architectures import Encoder
from agents.config import ArchConfig


class BrainSetExtractor(BaseFeaturesExtractor):
    """Hierarchical conv stages for images, named MLPs for vectors, one encoder per Dict key.

    ``arch`` and the other keyword arguments are :class:`agents.config.ArchConfig` fields (``channels``,
    ``kernels``, ``strides``, ``conv_fc``, ``mlp_hidden``, ``activation``, ``stages``); recurrent cores
    are not used here (SB3's PPO is feedforward).
    """

    def __init__(self, observation_space: spaces.Space, arch: str = "auto", **arch_kwargs):
        cfg = ArchConfig(name=arch.split("+")[0], **arch_kwargs)
        encoder = Encoder(observation_space, cfg)
        super().__init__(observation_space, encoder.out_dim)
        self.encoder = encoder

    def forward(self, observations) -> torch.Tensor:
        return self.encoder(observations)

    @torch.no_grad()
    def activations(self, observations) -> dict[str, torch.Tensor]:
        """Every named stage's activation for preprocessed observations (e.g. ``policy.obs_to_tensor``
        followed by ``preprocess_obs``)."""
        acts: dict[str, torch.Tensor] = {}
        self.encoder(observations, acts)
        return acts


def ppo_with_extractor(env, arch: str = "auto", policy: str | None = None, **ppo_kwargs):
    """An SB3 PPO whose policy uses :class:`BrainSetExtractor` (policy class chosen from the space:
    MultiInputPolicy for Dict, CnnPolicy for images, MlpPolicy otherwise)."""
    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3 import PPO

    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(env, n_envs=ppo_kwargs.pop("n_envs", 1)) if isinstance(env, str) else env
    if policy is None:
        space = venv.observation_space
        image = isinstance(space, spaces.Box) and len(space.shape) == 3
        policy = "CnnPolicy" if image else "MlpPolicy"
        if isinstance(space, spaces.Dict):
            policy = "MultiInputPolicy"
    pk = dict(ppo_kwargs.pop("policy_kwargs", {}) or {})
    pk.setdefault("features_extractor_class", BrainSetExtractor)
    pk.setdefault("features_extractor_kwargs", {"arch": arch})
    return PPO(policy, venv, policy_kwargs=pk, **ppo_kwargs)
