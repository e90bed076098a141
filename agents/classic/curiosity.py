"""Tabular curiosity: optimistic Q-learning on a prediction-error (or count) bonus, in numpy.

The textbook exploring agent, and the one that reaches the coverage references of ``agents.md`` (21 x 21
four rooms, 3000 steps, no reward). Each agent has

- a *world model*: a table ``M[s, a]`` predicting a fixed random embedding ``y(o') = o' P`` of the next
  observation (``P``: a fixed Gaussian ``obs_dim x target_dim`` projection, the tabular form of the
  ``random`` target of :mod:`agents.objectives.predictive`); after each step ``M[s, a] += model_lr * e``
  with the prediction error ``e = y(o') - M[s, a]``;
- an *intrinsic reward*, the squared prediction error ``|e|^2`` measured before the model learns
  (``bonus='prediction'``), or the count bonus ``1 / sqrt(n(s, a))`` (``bonus='count'``), or none;
- action values ``Q[s, a]``, learned online by Q-learning ``Q += alpha (r + gamma max Q[s'] - Q)``
  and followed greedily (ties at random, ``epsilon`` random actions).

Optimism is what makes it explore: ``Q`` starts at ``q_init`` (default ``2 / (1 - gamma)``, twice the
value of a first-visit bonus of ~1 forever, so that no tried action's bonus outbids an untried action),
and the agent heads for the nearest action not yet tried. With ``q_init = 0`` the bonuses are
non-negative and the values start at zero: the agent repeats the first thing that paid and stays there
(measured: 4.5% of the cells, a random walk 67%). Optimism alone (``bonus='none'``) already explores
well (94%); the prediction-error bonus adds a little (96%), as does the count bonus (96%).

A noisy observation (``EmpowermentGrid(noisy_tv='action')``) is unpredictable for the model, so its error
never decays; in this tabular agent its pull is weak (measured: 23% of late steps on the TV action with
the prediction bonus, 16% with the count bonus, 1/6 by chance), unlike the deep curiosity agent's.

States are table rows: the agent needs an observation it can index, the 'onehot' or 'coords'
observation of EmpowermentGrid (the cell; extra features such as the TV still enter the target).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import brainset_envs  # noqa: F401  (registers the ids)
from agents.probes.intrinsic import cell_decoder, coverage_curve, grid_core, plot_coverage
from brainset_envs.analysis.empowerment import coverage, run_reference_policy
from brainset_envs.core.files import save_result_and_figure
from brainset_envs.core.grid import Layout
from brainset_envs.core.params import check_choice, check_float, check_int

BONUSES = ("prediction", "count", "none")


class TabularCuriosity:
    """``n_agents`` independent optimistic Q-learners over ``n_states x n_actions``, each with its own
    forward model (``bonus='prediction'``) or visit counts (``bonus='count'``)."""

    def __init__(self, n_agents: int, n_states: int, n_actions: int, obs_dim: int, bonus: str = "prediction",
                 gamma: float = 0.9, alpha: float = 1.0, q_init: float | None = None, model_lr: float = 0.5,
                 target_dim: int = 16, epsilon: float = 0.0, rng: np.random.Generator | int | None = 0):
        self.n_agents = check_int("n_agents", n_agents, 1)
        self.n_states, self.n_actions = check_int("n_states", n_states, 1), check_int("n_actions", n_actions, 1)
        self.bonus_kind = check_choice("bonus", bonus, BONUSES)
        self.gamma = check_float("gamma", gamma, 0.0, 1.0, high_open=True)
        self.alpha = check_float("alpha", alpha, 0.0, 1.0, low_open=True)
        self.q_init = 2.0 / (1.0 - self.gamma) if q_init is None else check_float("q_init", q_init)
        self.model_lr = check_float("model_lr", model_lr, 0.0, 1.0, low_open=True)
        self.epsilon = check_float("epsilon", epsilon, 0.0, 1.0)
        target_dim = check_int("target_dim", target_dim, 1)
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        shape = (self.n_agents, self.n_states, self.n_actions)
        self.q = np.full(shape, self.q_init)
        self.counts = np.zeros(shape)
        self.projection = (rng.normal(size=(check_int("obs_dim", obs_dim, 1), target_dim))
                           / np.sqrt(target_dim))
        self.model = np.zeros((*shape, target_dim)) if self.bonus_kind == "prediction" else None
        self._rows = np.arange(self.n_agents)

    def act(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Greedy actions (n_agents,) in ``state`` (n_agents,), ties and an ``epsilon`` share at random."""
        q = self.q[self._rows, state]
        best = q >= q.max(axis=1, keepdims=True) - 1e-9
        action = (rng.random(q.shape) * best).argmax(axis=1)  # a random one of the best
        if self.epsilon > 0:
            explore = rng.random(self.n_agents) < self.epsilon
            action = np.where(explore, rng.integers(0, self.n_actions, self.n_agents), action)
        return action

    def bonus(self, state: np.ndarray, action: np.ndarray, next_obs: np.ndarray, learn: np.ndarray) -> np.ndarray:
        """Intrinsic rewards (n_agents,) of the transitions; the model (or the counts) learns from those
        where ``learn`` is true (0 reward elsewhere)."""
        idx = (self._rows, state, action)
        self.counts[idx] += learn
        if self.bonus_kind == "count":
            return np.where(learn, 1.0 / np.sqrt(np.maximum(self.counts[idx], 1.0)), 0.0)
        if self.bonus_kind == "none":
            return np.zeros(self.n_agents)
        err = next_obs.reshape(self.n_agents, -1) @ self.projection - self.model[idx]
        self.model[idx] += self.model_lr * err * learn[:, None]
        return np.where(learn, (err ** 2).sum(axis=1), 0.0)

    def update(self, state: np.ndarray, action: np.ndarray, reward: np.ndarray, next_state: np.ndarray,
               terminal: np.ndarray, learn: np.ndarray) -> np.ndarray:
        """One Q-learning step where ``learn`` is true; returns the TD errors (0 elsewhere)."""
        idx = (self._rows, state, action)
        target = reward + self.gamma * np.where(terminal, 0.0, self.q[self._rows, next_state].max(axis=1))
        delta = np.where(learn, target - self.q[idx], 0.0)
        self.q[idx] += self.alpha * delta
        return delta


@dataclass
class ExploreConfig:
    """One exploration experiment: ``n_agents`` walkers, each its own learner and env, ``steps`` steps."""

    n_agents: int = 16
    steps: int = 3000
    bonus: str = "prediction"
    gamma: float = 0.9
    alpha: float = 1.0  # exact backups: the moves are deterministic (lower it for noisy worlds)
    q_init: float | None = None  # None: 2 / (1 - gamma)
    model_lr: float = 0.5
    target_dim: int = 16
    epsilon: float = 0.0
    extrinsic: float = 0.0  # weight of the env's reward (0: intrinsic motivation alone)
    seed: int = 0
    env_id: str = "BrainSet/EmpowermentGrid-v0"
    env_kwargs: dict[str, Any] = field(default_factory=lambda: {"layout": "four_rooms_21", "start": [1, 1]})


@dataclass
class ExploreResult:
    """Cells and actions of every walker, and the learners at the end."""

    config: ExploreConfig
    cells: np.ndarray  # (n_agents, steps + 1): the start cell, then the cell after every step
    actions: np.ndarray  # (n_agents, steps)
    bonuses: np.ndarray  # (n_agents, steps): the intrinsic reward of every step
    agent: TabularCuriosity
    layout: Layout  # the grid the walkers explored

    @property
    def n_reachable(self) -> int:
        """Free cells of the layout."""
        return len(self.layout.free_cells)

    def coverage(self) -> np.ndarray:
        """Fraction of the free cells each walker visited (n_agents,)."""
        return np.array([coverage(c, self.n_reachable) for c in self.cells])

    def summary(self) -> dict[str, Any]:
        """JSON-ready results: config, coverage per walker and its mean."""
        cov = self.coverage()
        return {"config": asdict(self.config), "coverage_mean": round(float(cov.mean()), 4),
                "coverage": cov.round(4).tolist()}


def explore(config: ExploreConfig | None = None, progress: bool = False) -> ExploreResult:
    """Run ``config.n_agents`` curious walkers for ``config.steps`` steps (one env each, learning online)."""

    cfg = config or ExploreConfig()
    n, steps = check_int("n_agents", cfg.n_agents, 1), check_int("steps", cfg.steps, 1)
    extrinsic = check_float("extrinsic", cfg.extrinsic)
    check_choice("bonus", cfg.bonus, BONUSES)
    kwargs = {"max_steps": steps, **cfg.env_kwargs}  # one episode per walker unless told otherwise
    probe = gym.make(cfg.env_id, **kwargs)
    try:
        core, decode = grid_core(probe), cell_decoder(probe)
        if not isinstance(probe.action_space, gym.spaces.Discrete):
            raise ValueError(f"env_id={cfg.env_id!r}: tabular curiosity needs discrete actions")
        n_states, layout, n_actions = core.grid.n_cells, core.layout, int(probe.action_space.n)
        obs_dim = int(np.prod(probe.observation_space.shape))
    finally:
        probe.close()
    rng = np.random.default_rng(cfg.seed)
    agent = TabularCuriosity(n, n_states, n_actions, obs_dim, cfg.bonus, cfg.gamma, cfg.alpha, cfg.q_init,
                             cfg.model_lr, cfg.target_dim, cfg.epsilon, rng)

    def cells_of(obs: np.ndarray) -> np.ndarray:
        return decode(torch.from_numpy(np.ascontiguousarray(obs))).numpy().astype(np.intp)

    # deferred: optional heavy dependency, imported only when used
    from tqdm.auto import tqdm

    envs = gym.make_vec(cfg.env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
    try:
        obs, _ = envs.reset(seed=cfg.seed)
        state = cells_of(obs)
        cells = np.empty((n, steps + 1), np.intp)
        actions = np.empty((n, steps), np.intp)
        bonuses = np.zeros((n, steps))
        cells[:, 0] = state
        resetting = np.zeros(n, bool)  # the next step only resets these envs (NEXT_STEP autoreset)
        for t in tqdm(range(steps), disable=not progress, desc="explore", unit="step"):
            action = agent.act(state, rng)
            next_obs, reward, term, trunc, _ = envs.step(action)
            next_state = cells_of(next_obs)
            learn = ~resetting
            r = agent.bonus(state, action, next_obs, learn)
            agent.update(state, action, r + extrinsic * reward, next_state, term, learn)
            cells[:, t + 1], actions[:, t], bonuses[:, t] = next_state, action, r
            resetting = term | trunc
            state = next_state
    finally:
        envs.close()
    return ExploreResult(cfg, cells, actions, bonuses, agent, layout)


def plot_exploration(result: ExploreResult, reference: np.ndarray | None = None):
    """Coverage against steps (this agent, and ``reference`` (walkers, steps + 1) cells of a random walk)
    beside a map of the visits of all walkers (log scale; walls grey)."""
    # deferred: optional heavy dependency, imported only when used
    import matplotlib

    matplotlib.use("Agg", force=False)
    # deferred: optional heavy dependency, imported only when used
    import matplotlib.pyplot as plt

    cfg, n, lay = result.config, result.n_reachable, result.layout
    fig, (ax, axm) = plt.subplots(1, 2, figsize=(10.5, 4.0), gridspec_kw={"width_ratios": [1.4, 1]})
    curves = {f"tabular Q, bonus '{cfg.bonus}'": np.array([coverage_curve(c, n) for c in result.cells])}
    if reference is not None:
        curves["random walk"] = np.array([coverage_curve(c, n) for c in reference])
    plot_coverage(curves, f"{len(result.cells)} walkers, {n} free cells", ax=ax)
    counts = np.bincount(result.cells.ravel(), minlength=lay.h * lay.w)[: lay.h * lay.w]
    img = np.ma.masked_where(lay.blocked, np.log10(1.0 + counts.reshape(lay.h, lay.w)))
    im = axm.imshow(img, cmap=plt.get_cmap("viridis").with_extremes(bad="0.6"))
    axm.set(xticks=[], yticks=[], title="visits, all walkers (log10(1 + n))")
    fig.colorbar(im, ax=axm, fraction=0.046)
    fig.tight_layout()
    return fig


def save_exploration(result: ExploreResult, out_dir: str | Path, reference_walkers: int = 200) -> list[Path]:
    """Write ``explore.json`` (summary, with a random walk's coverage from the same start) and
    ``explore.png`` (:func:`plot_exploration`) into ``out_dir``, atomically; returns the paths."""

    walkers = check_int("reference_walkers", reference_walkers, 1)
    walk = run_reference_policy(result.layout, "random", result.config.steps, int(result.cells[0, 0]),
                                n_walkers=walkers, rng=result.config.seed)
    summary = result.summary()
    rw = float(np.mean([coverage(c, result.n_reachable) for c in walk]))
    summary["random_walk_coverage_mean"] = round(rw, 4)
    summary["ratio_to_random_walk"] = round(summary["coverage_mean"] / rw, 3)
    return save_result_and_figure(summary, plot_exploration(result, walk), out_dir, "explore")
