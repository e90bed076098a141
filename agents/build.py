"""Building what a config names: the (agent, objective, rule) triple, fresh or from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch

from agents.architectures import build_agent
from agents.config import Config
from agents.objectives import get_objective
from agents.rules import get_rule
from agents.run_folder import checkpoint_path, load_checkpoint


def build_components(cfg: Config, observation_space, action_space):
    """(agent, objective, rule) for the config: objectives add their heads before the rule prepares the
    model, so rules, optimizer and checkpoints all see them."""
    agent = build_agent(observation_space, action_space, cfg.arch)
    objective = get_objective(cfg.objective.spec, cfg.objective.kwargs)
    objective.build(agent)
    rule = get_rule(cfg.rule.name, **cfg.rule.kwargs)
    model: torch.nn.Module = rule.prepare(agent)  # the built-in rules return the agent, layers replaced
    return model, objective, rule


def load_agent(path: str | Path, which: str = "best", device: str | torch.device = "cpu"):
    """A trained agent from a checkpoint file or run folder, in one call (eval mode).

    ``agent.config`` is the run's :class:`Config`; use ``agent(obs, return_activations=True)`` to read
    every stage.
    """
    ck = load_checkpoint(checkpoint_path(path, which), map_location=device)
    cfg = Config.from_dict(ck["config"])
    agent, _, _ = build_components(cfg, ck["observation_space"], ck["action_space"])
    agent.load_state_dict(ck["model"])
    agent.to(device).eval()
    agent.config = cfg
    agent.checkpoint_step = ck["counters"]["global_step"]
    return agent
