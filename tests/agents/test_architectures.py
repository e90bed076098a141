"""Architectures: shapes, named stage activations, recurrent cores, and sequence/step agreement."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

from agents.architectures import RecurrentCore, build_agent, log_prob_entropy, stage_names
from agents.config import ArchConfig

IMG = spaces.Box(0, 255, (64, 64, 1), np.uint8)
VEC = spaces.Box(-1.0, 1.0, (6,), np.float32)


def _batch(space, n, seed=0):
    space.seed(seed)
    xs = [space.sample() for _ in range(n)]
    if isinstance(space, spaces.Dict):
        return {k: torch.as_tensor(np.stack([x[k] for x in xs])) for k in space.spaces}
    return torch.as_tensor(np.stack(xs))


def test_hierarchical_conv_stages_are_named_and_shaped():
    agent = build_agent(IMG, spaces.Discrete(2), ArchConfig(name="hierarchical"))
    out = agent(_batch(IMG, 5), return_activations=True)
    acts = out.activations
    assert list(acts)[:4] == ["V1", "V2", "V4", "IT"]
    # default: 16, 32, 32, 32 channels, stride 2 each: 64 -> 32 -> 16 -> 8 -> 4
    assert acts["V1"].shape == (5, 16, 32, 32)
    assert acts["V2"].shape == (5, 32, 16, 16)
    assert acts["V4"].shape == (5, 32, 8, 8)
    assert acts["IT"].shape == (5, 32, 4, 4)
    assert acts["fc1"].shape == (5, 128)
    assert out.logits.shape == (5, 2) and out.value.shape == (5,)
    assert (acts["V1"] >= 0).all()  # ReLU stages
    assert stage_names(agent) == list(acts)


def test_custom_stage_names_and_channel_first_images():
    cfg = ArchConfig(stages=["A", "B"], channels=[4, 6], kernels=[3, 3], strides=[1, 2], conv_fc=[])
    chw = spaces.Box(0.0, 1.0, (3, 16, 16), np.float32)
    agent = build_agent(chw, spaces.Discrete(3), cfg)
    acts = agent(_batch(chw, 2), return_activations=True).activations
    assert acts["A"].shape == (2, 4, 16, 16) and acts["B"].shape == (2, 6, 8, 8)


def test_mlp_flattens_images_and_names_layers():
    agent = build_agent(IMG, spaces.Discrete(2), ArchConfig(name="mlp", mlp_hidden=[32, 16]))
    acts = agent(_batch(IMG, 3), return_activations=True).activations
    assert agent.encoder.part.conv is None
    assert acts["fc1"].shape == (3, 32) and acts["fc2"].shape == (3, 16)
    assert acts["fc1"].abs().max() <= 1.0  # tanh


def test_dict_observation_gets_one_encoder_per_key():
    space = spaces.Dict({"image": spaces.Box(0, 255, (16, 16, 3), np.uint8), "energy": VEC,
                         "cell": spaces.Discrete(7)})
    agent = build_agent(space, spaces.Discrete(4), ArchConfig(channels=[4, 4, 4, 4], conv_fc=[8]))
    out = agent(_batch(space, 4), return_activations=True)
    names = list(out.activations)
    assert {"image.V1", "image.IT", "image.fc1", "energy.fc1", "cell.fc2"} <= set(names)
    assert out.features.shape == (4, 8 + 64 + 64)


def test_box_actions_gaussian_policy():
    act = spaces.Box(-2.0, 2.0, (3,), np.float32)
    agent = build_agent(VEC, act)
    obs = _batch(VEC, 7)
    a, logp, v, _ = agent.act(obs)
    assert a.shape == (7, 3) and logp.shape == (7,) and v.shape == (7,)
    out = agent(obs)
    lp, ent = log_prob_entropy(out, a)
    assert torch.allclose(lp, logp, atol=1e-5)
    assert ent.shape == (7,)
    greedy, *_ = agent.act(obs, deterministic=True)
    assert torch.allclose(greedy, out.logits)


def test_unsupported_spaces_raise_clear_errors():
    with pytest.raises(TypeError, match="action space"):
        build_agent(VEC, spaces.MultiDiscrete([2, 3]))
    with pytest.raises(ValueError, match="arch.core"):
        build_agent(VEC, spaces.Discrete(2), ArchConfig(core="transformer"))
    with pytest.raises(ValueError, match="arch.name"):
        build_agent(VEC, spaces.Discrete(2), ArchConfig(name="resnet"))


@pytest.mark.parametrize("core", ["rnn_tanh", "rnn_relu", "gru", "lstm"])
def test_recurrent_core_sequence_equals_steps_with_resets(core):
    torch.manual_seed(0)
    agent = build_agent(VEC, spaces.Discrete(2), ArchConfig(name=f"mlp+{core}", core_hidden=8))
    assert agent.recurrent and agent.core.kind == core
    L, B = 6, 3
    obs = torch.randn(L, B, 6)
    first = torch.zeros(L, B, dtype=torch.bool)
    first[0, :] = True
    first[3, 1] = True  # env 1 starts a new episode at step 3
    s0 = torch.randn(B, agent.state_size)
    seq = agent.forward_sequence(obs, s0, first, return_activations=True)
    state, logits = s0, []
    for t in range(L):
        o = agent(obs[t], state, first[t])
        state = o.state
        logits.append(o.logits)
    assert torch.allclose(seq.logits, torch.cat(logits), atol=1e-6)
    assert seq.activations["core"].shape == (L * B, 8)
    # the reset makes env 1's step-3 output independent of its earlier inputs
    obs2 = obs.clone()
    obs2[:3, 1] += 5.0
    seq2 = agent.forward_sequence(obs2, s0, first)
    idx = 3 * B + 1
    assert torch.allclose(seq.logits[idx], seq2.logits[idx], atol=1e-6)
    assert not torch.allclose(seq.logits[2 * B + 1], seq2.logits[2 * B + 1])


def test_recurrent_core_is_built_from_linear_layers():
    core = RecurrentCore("gru", 5, 7)
    assert isinstance(core.ih, torch.nn.Linear) and isinstance(core.hh, torch.nn.Linear)
    assert core.ih.weight.shape == (21, 5)
    assert RecurrentCore("lstm", 5, 7).state_size == 14
