"""Predictive coding objectives: the curiosity bonus fades with familiarity, curiosity explores a
four-room world better than a random walk, and prediction error is drawn to a noisy TV while a count
bonus is not (all through the ordinary trainer, fixed seeds)."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.build import build_components
from agents.experiments.checks import CHECKS, random_walk_coverage
from agents.experiments.intrinsic_report import config
from agents.objectives import get_objective
from agents.probes.intrinsic import cell_observations


def _cfg(spec, env_kwargs, num_envs, steps, seed, *extra):
    return config([f"env.kwargs={env_kwargs}", f"env.num_envs={num_envs}", f"train.total_steps={num_envs * steps}",
                   f"objective.spec={spec}", *extra], seed)


def test_curiosity_spec_adds_a_policy_term_on_intrinsic_reward_only():
    obj = get_objective("curiosity")
    names = [o.name for _, o in obj.terms]
    assert names == ["curiosity", "reward"] and obj.terms[1][1].extrinsic == 0.0
    aux = get_objective("reward+0.1*predictive")
    assert [(w, o.name) for w, o in aux.terms] == [(1.0, "reward"), (0.1, "predictive")]
    assert not aux.terms[1][1].needs_policy  # an auxiliary loss pays no reward by default
    assert get_objective("curiosity", {"reward": {"ent_coef": 0.2}}).terms[1][1].ent_coef == 0.2
    # options of objectives the spec does not use (per-env defaults) are ignored; unknown names are not
    assert len(get_objective("predictive", {"reward": {"gamma": 0.0}}).terms) == 1
    with pytest.raises(ValueError, match="rewrd"):
        get_objective("reward", {"rewrd": {"gamma": 0.0}})
    with pytest.raises(ValueError, match="target"):
        get_objective("predictive", {"predictive": {"target": "latent"}})
    with pytest.raises(ValueError, match="normalize"):
        get_objective("curiosity", {"curiosity": {"normalize": "max"}})


@pytest.mark.parametrize("name", ["curiosity", "rnd"])
def test_bonus_of_a_familiar_state_is_below_half_the_bonus_of_a_novel_one(name, audit):
    """A random walk confined to the four-room world's first room: cells visited 50+ times pay less than
    half what cells of the unvisited rooms pay."""
    seed = audit.seed(0)
    torch.manual_seed(seed)
    cfg = _cfg(name, "{layout: four_rooms, start: [1, 1]}", 1, 1, seed)
    env = gym.make(cfg.env.id, **cfg.env.kwargs)
    agent, objective, _ = build_components(cfg, env.observation_space, env.action_space)
    obj = objective.terms[0][1]
    grid = env.unwrapped.core.grid
    rng = np.random.default_rng(seed)
    room = {grid.layout.cell(r, c) for r in range(1, 5) for c in range(1, 5)}  # 4 x 4 top-left corner
    cells, acts, nxt = [], [], []
    c = grid.layout.cell(1, 1)
    while len(cells) < 1600:
        a = int(rng.integers(0, 5))
        c2 = int(grid.next[c, a])
        if c2 in room:
            cells.append(c), acts.append(a), nxt.append(c2)
            c = c2
    _, o = cell_observations(env, np.array(cells))
    _, o2 = cell_observations(env, np.array(nxt))
    o, o2, a = torch.as_tensor(o), torch.as_tensor(o2), torch.as_tensor(acts)
    opt = torch.optim.Adam([p for p in agent.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(300):
        idx = torch.randint(0, len(a), (64,))
        loss = obj._errors(o[idx], a[idx], o2[idx]) if name == "curiosity" else obj._errors(o2[idx])
        opt.zero_grad()
        loss.mean().backward()
        opt.step()
    visits = np.bincount(nxt, minlength=grid.n_cells)
    familiar = np.flatnonzero(visits >= 50)
    novel = np.setdiff1d(grid.free_cells, np.flatnonzero(visits))
    assert len(familiar) >= 8 and len(novel) >= 80

    def bonus(cs):
        _, ob = cell_observations(env, cs)
        ob = torch.as_tensor(ob)
        if name == "rnd":
            return obj.bonus(ob).mean().item()
        return np.mean([obj.bonus(ob, torch.full((len(cs),), k), torch.as_tensor(
            cell_observations(env, grid.next[cs, k])[1])).mean().item() for k in range(5)])

    audit.check(f"{name}_familiar_bonus", {"familiar_over_novel": bonus(familiar) / bonus(novel)})


def test_ppo_curiosity_explores_four_rooms_better_than_a_random_walk():
    """21 x 21 four rooms (328 cells), no extrinsic reward, 3000 steps from a corner, the deep curiosity
    agent through the trainer (PPO, 4 walkers sharing one network), 8 groups trained from scratch: one
    group ranges from 0.91x to 1.34x the random walk's coverage over seeds and CPU code paths, so the test
    asserts the mean of 8 (1.12x-1.20x measured; the first 4 alone gave 1.10x-1.24x).

    The figure and its threshold are the registry's (``agents.experiments.checks``), set from the
    robustness audit over seeds and CPU code paths (``assets/robustness.md``). The tabular optimistic
    curiosity agent reaches 1.3x (``tests/agents/classic/test_curiosity.py``)."""
    check = CHECKS["ppo_curiosity_coverage"]
    assert 0.6 < random_walk_coverage() < 0.72  # reference 0.62
    figures = check.tested()
    print(f"coverage: curiosity {figures['coverage']:.3f}, random walk {random_walk_coverage():.3f}, "
          f"ratio {figures['ratio_to_random_walk']:.3f}")
    assert not check.failures(figures), check.failures(figures)


def test_prediction_error_is_drawn_to_a_noisy_tv_and_a_count_bonus_is_not():
    """Four rooms with an extra 'watch TV' action that shows fresh noise: prediction-error curiosity keeps
    watching (the noise never becomes predictable); a count bonus on the agent's cell does not (1/6: a
    random agent)."""
    check = CHECKS["noisy_tv"]
    figures = check.tested()
    print(f"late steps watching the noisy TV: {figures}")
    assert not check.failures(figures), check.failures(figures)


def test_predictive_alone_trains_the_shared_encoder(audit):
    """``predictive`` with no reward: the prediction error falls; the policy encoder learns, the policy
    head (no reward, no policy term) does not move."""
    from agents.trainer import seed_everything, train

    cfg = _cfg("predictive", "{layout: open, size: 6}", 8, 1000, audit.seed(0), "train.num_steps=25",
               "train.lr=0.002")
    env = gym.make(cfg.env.id, **cfg.env.kwargs)
    seed_everything(cfg.run.seed)  # the same initial weights as train() draws
    agent0, objective, _ = build_components(cfg, env.observation_space, env.action_space)
    assert [o.name for _, o in objective.terms] == ["predictive"]
    res = train(cfg)
    errs = [r["pred_error"] for r in res.rows]
    audit.check("predictive_error_falls", {"late_over_early_error": np.mean(errs[-3:]) / np.mean(errs[:3])})
    fc1 = lambda a: a.encoder.part.mlp.layers["fc1"].weight  # noqa: E731
    assert not torch.allclose(fc1(res.agent), fc1(agent0))
    assert torch.equal(res.agent.policy.weight, agent0.policy.weight)


def test_visit_recorder_copies_each_rollout():
    """The trainer reuses one rollout buffer: the recorder must keep copies, not views of it."""
    from types import SimpleNamespace

    from agents.probes.intrinsic import VisitRecorder

    rec = VisitRecorder(lambda obs: obs.clone())
    buf = SimpleNamespace(obs=torch.zeros(3, 1, dtype=torch.long), actions=torch.zeros(2, 1, dtype=torch.long),
                          valid=torch.ones(2, 1))
    for k in range(2):
        buf.obs[:] = torch.tensor([[k], [k + 10], [k + 20]])
        buf.actions[:] = k
        rec.on_rollout(buf)
    assert rec.action_trajectories().tolist() == [[0, 0, 1, 1]]
    assert rec.trajectories().tolist() == [[0, 10, 20, 11, 21]]
