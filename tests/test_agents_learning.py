"""Learning checks: the default trainer settings learn (fixed seeds, CPU, one thread).

Per-env defaults come from agents/configs/<Env>.yaml; a new env's learning check needs only that file.
"""

import torch

from agents.config import parse_override, resolve_config
from agents.runs import build_components
from agents.trainer import evaluate, make_vec_env, train

QUIET = ["run.runs_dir=''", "run.progress=false", "run.video=false"]


def _accuracy(agent, env_id, episodes=1000, seed=777):
    envs = make_vec_env(env_id, 50)
    try:
        return evaluate(agent, envs, episodes, seed, torch.device("cpu"))["eval/return"]
    finally:
        envs.close()


def test_orientation_easy_reaches_90_percent_with_default_settings():
    env_id = "BrainSet/OrientationDiscriminationEasy-v0"
    cfg = resolve_config(env_id, overrides=[parse_override(o) for o in (
        *QUIET, "train.total_steps=40000", "run.eval_every=2048", "run.eval_episodes=200",
        "run.target_return=0.95")])
    torch.manual_seed(123)
    envs = make_vec_env(env_id, 1)
    untrained, _, _ = build_components(cfg, envs.single_observation_space, envs.single_action_space)
    envs.close()
    chance = _accuracy(untrained, env_id)
    res = train(cfg)
    acc = _accuracy(res.agent, env_id)  # 1000 fresh trials, not the ones that stopped training
    print(f"orientation easy: accuracy {acc:.3f} after {res.global_step} steps ({res.elapsed:.1f} s); "
          f"untrained {chance:.3f}")
    assert chance < 0.65
    assert acc >= 0.9


def test_cartpole_vector_observations_learn_with_default_settings():
    cfg = resolve_config("CartPole-v1", overrides=[parse_override(o) for o in (
        *QUIET, "train.total_steps=150000", "run.eval_every=10000", "run.eval_episodes=20",
        "run.target_return=450")])
    res = train(cfg)
    envs = make_vec_env("CartPole-v1", 10)
    ret = evaluate(res.agent, envs, 20, 99, torch.device("cpu"))["eval/return"]
    print(f"cartpole: return {ret:.1f} after {res.global_step} steps ({res.elapsed:.1f} s)")
    assert ret >= 195.0  # the classic 'solved' level; a random policy scores about 22
