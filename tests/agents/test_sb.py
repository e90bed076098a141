"""SB3 interoperability: every BrainSet env trains with SB3 PPO unchanged; our architectures are SB3
features extractors; the shipped rl-zoo3 hyperparameter file is well formed."""

from importlib import resources

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.preprocessing import preprocess_obs
from stable_baselines3.common.vec_env import VecNormalize

import brainset_envs
from agents.sb3 import BrainSetExtractor, ppo_with_extractor


def _flat_params(model):
    return torch.cat([p.detach().flatten().clone() for p in model.policy.parameters()])


@pytest.mark.parametrize("env_id", brainset_envs.env_ids())
def test_sb3_ppo_trains_every_env_unchanged(env_id):
    env = gym.make(env_id)
    space = env.observation_space
    policy = "MultiInputPolicy" if isinstance(space, spaces.Dict) else "MlpPolicy"
    venv = make_vec_env(env_id, n_envs=4, seed=0)  # SB3's own DummyVecEnv of gym.make(env_id)
    model = PPO(policy, venv, n_steps=256, batch_size=512, n_epochs=1, seed=0, device="cpu")
    before = _flat_params(model)
    model.learn(2048)
    assert model.num_timesteps >= 2048
    assert not torch.equal(before, _flat_params(model))  # it trained
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action.item() if np.ndim(action) == 0 else action)


def test_sb3_cnn_policy_on_images():
    model = PPO("CnnPolicy", "BrainSet/OrientationDiscriminationEasy-v0", n_steps=128, batch_size=128,
                n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    assert model.num_timesteps >= 256


def test_our_extractor_plugs_into_sb3_images_and_vectors():
    kw = dict(channels=[4, 8, 8, 8], conv_fc=[32])
    model = ppo_with_extractor("BrainSet/OrientationDiscriminationEasy-v0", n_envs=2, n_steps=64,
                               batch_size=64, n_epochs=1, seed=0, device="cpu",
                               policy_kwargs=dict(features_extractor_kwargs=dict(arch="hierarchical", **kw)))
    ext = model.policy.features_extractor
    assert isinstance(ext, BrainSetExtractor) and ext.features_dim == 32
    before = _flat_params(model)
    model.learn(128)
    assert not torch.equal(before, _flat_params(model))
    obs, _ = gym.make("BrainSet/OrientationDiscriminationEasy-v0").reset(seed=0)
    t, _ = model.policy.obs_to_tensor(obs)  # SB3 transposes images to channel-first
    acts = ext.activations(preprocess_obs(t, model.policy.observation_space))
    assert acts["V1"].shape == (1, 4, 32, 32) and list(acts) == ["V1", "V2", "V4", "IT", "fc1"]

    vec = ppo_with_extractor("CartPole-v1", arch="mlp", n_steps=64, batch_size=64, n_epochs=1, seed=0,
                             device="cpu")
    assert vec.policy.features_extractor.features_dim == 64
    vec.learn(64)


def test_our_extractor_on_dict_observations():
    space = spaces.Dict({"image": spaces.Box(0, 255, (3, 16, 16), np.uint8),  # as SB3 passes it
                         "energy": spaces.Box(0.0, 1.0, (1,), np.float32)})
    ext = BrainSetExtractor(space, channels=[4, 4, 4, 4], conv_fc=[8], mlp_hidden=[5])
    x = {"image": torch.rand(2, 3, 16, 16), "energy": torch.rand(2, 1)}
    assert ext(x).shape == (2, 8 + 5) == (2, ext.features_dim)
    assert {"image.V1", "image.fc1", "energy.fc1"} <= set(ext.activations(x))


def test_rlzoo_hyperparameter_file_is_valid():
    text = (resources.files("agents") / "configs" / "rlzoo_ppo.yaml").read_text()
    hp = yaml.safe_load(text)
    assert hp and set(hp) <= set(brainset_envs.env_ids())
    for env_id, h in hp.items():
        h = dict(h)
        n_envs, n_timesteps, policy = h.pop("n_envs"), h.pop("n_timesteps"), h.pop("policy")
        assert n_envs >= 1 and n_timesteps > 0
        venv = make_vec_env(env_id, n_envs=n_envs)
        if h.pop("normalize", False):  # rl-zoo3's VecNormalize switch (not a PPO argument)
            venv = VecNormalize(venv, gamma=h.get("gamma", 0.99))
        model = PPO(policy, venv, device="cpu", **h)  # the rest are PPO arguments
        assert model.n_steps == h["n_steps"]
