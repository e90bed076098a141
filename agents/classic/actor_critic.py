"""The place-cell TD actor-critic of Foster, Morris & Dayan (2000) for the water maze, in numpy.

A critic ``V(p) = w . f(p)`` and an actor with one weight vector per heading, ``a_j(p) = z_j . f(p)``,
both reading the same place-cell rates ``f``; headings are drawn from ``softmax(beta * a)``. After each
step the TD error ``delta = r + gamma V(p') - V(p)`` (``V(p') = 0`` on the platform) updates
``w += critic_lr * delta * f(p)`` and, for the chosen heading only, ``z_j += actor_lr * delta * f(p)``.
Many rats are simulated at once, one env each in the native vector env, every rat with its own weights.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

import brainset_envs  # noqa: F401  (registers the ids)
from brainset_envs.analysis.water_maze import latency_table, quadrant_occupancy


class PlaceCellActorCritic:
    """``n_agents`` independent actor-critics over ``n_cells`` place cells and ``n_actions`` headings."""

    def __init__(self, n_agents: int, n_cells: int, n_actions: int = 8, gamma: float = 0.98,
                 critic_lr: float = 0.1, actor_lr: float = 0.5, beta: float = 8.0):
        self.gamma, self.critic_lr, self.actor_lr, self.beta = gamma, critic_lr, actor_lr, beta
        self.w = np.zeros((n_agents, n_cells))  # critic
        self.z = np.zeros((n_agents, n_actions, n_cells))  # actor
        self._rows = np.arange(n_agents)

    def values(self, f: np.ndarray) -> np.ndarray:
        """Critic values (n_agents,) of place-cell rates ``f`` (n_agents, n_cells)."""
        return np.einsum("nc,nc->n", self.w, f)

    def probabilities(self, f: np.ndarray) -> np.ndarray:
        """Action probabilities (n_agents, n_actions): softmax of beta times the actor's activations."""
        a = self.beta * np.einsum("nac,nc->na", self.z, f)
        a -= a.max(axis=1, keepdims=True)
        np.exp(a, out=a)
        a /= a.sum(axis=1, keepdims=True)
        return a

    def act(self, f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One heading per agent, drawn from :meth:`probabilities`."""
        cum = np.cumsum(self.probabilities(f), axis=1)
        u = rng.random(len(cum))[:, None] * cum[:, -1:]
        return np.minimum((cum < u).sum(axis=1), cum.shape[1] - 1)

    def update(self, f: np.ndarray, action: np.ndarray, reward: np.ndarray, f_next: np.ndarray,
               terminal: np.ndarray, learn: np.ndarray) -> np.ndarray:
        """One TD step for the agents where ``learn`` is true; returns the TD errors (0 elsewhere).

        A timeout is not terminal: its last step bootstraps from ``V(p')`` like any other.
        """
        v_next = np.where(terminal, 0.0, self.values(f_next))
        delta = np.where(learn, reward + self.gamma * v_next - self.values(f), 0.0)
        self.w += self.critic_lr * delta[:, None] * f
        self.z[self._rows, action] += self.actor_lr * delta[:, None] * f
        return delta


@dataclass
class FMDConfig:
    """One experiment: rats, days, protocol and the learning parameters (defaults: tasks.md section 4)."""

    n_rats: int = 20
    days: int = 16
    trials_per_day: int = 4
    reversal_day: int | None = 13  # None: reference memory only
    gamma: float = 0.98
    critic_lr: float = 0.1
    actor_lr: float = 0.5
    beta: float = 8.0
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # extra WaterMaze arguments


@dataclass
class FMDResult:
    """Escape latencies (steps; a timeout counts as its length) of every rat, day and trial."""

    config: FMDConfig
    latencies: np.ndarray  # (n_rats, days, trials_per_day)
    agent: PlaceCellActorCritic  # the weights at the end
    snapshots: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # day: (w, z)

    @property
    def per_day(self) -> np.ndarray:
        """Mean latency of each day over rats and trials."""
        return latency_table(self.latencies)

    def summary(self) -> dict[str, Any]:
        """JSON-ready results: config, mean latency per day, and every rat's latencies."""
        return {"config": asdict(self.config), "latency_per_day": self.per_day.round(3).tolist(),
                "latencies": self.latencies.tolist()}


def env_kwargs(config: FMDConfig) -> dict[str, Any]:
    """WaterMaze arguments of an experiment (reversal protocol when ``reversal_day`` is set)."""
    kw: dict[str, Any] = {"trials_per_day": config.trials_per_day}
    if config.reversal_day is not None:
        kw.update(protocol="reversal", reversal_day=config.reversal_day)
    kw.update(config.env_kwargs)
    return kw


def train(config: FMDConfig, snapshot_days: tuple[int, ...] = ()) -> FMDResult:
    """Run ``config.n_rats`` rats through ``config.days`` days of trials, learning online (one env each).

    ``snapshot_days``: keep each rat's weights as they were at the end of these days.
    """
    n, n_trials, tpd = config.n_rats, config.days * config.trials_per_day, config.trials_per_day
    envs = gym.make_vec("BrainSet/WaterMaze-v0", num_envs=n, vectorization_mode="vector_entry_point",
                        **env_kwargs(config))
    if not isinstance(envs.single_action_space, gym.spaces.Discrete):
        raise ValueError("the actor-critic needs discrete headings (action_type='discrete')")
    agent = PlaceCellActorCritic(n, envs.single_observation_space.shape[0],
                                 int(envs.single_action_space.n), config.gamma, config.critic_lr,
                                 config.actor_lr, config.beta)
    rng = np.random.default_rng(config.seed)
    obs, _ = envs.reset(seed=config.seed)
    lat = np.zeros((n, n_trials), np.int64)
    done_trials = np.zeros(n, np.int64)
    resetting = np.zeros(n, bool)  # the next step only resets these envs (NEXT_STEP autoreset)
    snaps = {d: (np.zeros_like(agent.w), np.zeros_like(agent.z)) for d in snapshot_days}
    while (done_trials < n_trials).any():
        action = agent.act(obs, rng)
        obs_next, reward, term, trunc, info = envs.step(action)
        learn = ~resetting & (done_trials < n_trials)
        agent.update(obs, action, reward, obs_next, term, learn)
        ended = (term | trunc) & learn
        lat[ended, done_trials[ended]] = info["steps"][ended]
        done_trials += ended
        for d, (w, z) in snaps.items():
            rats = ended & (done_trials == d * tpd)
            w[rats], z[rats] = agent.w[rats], agent.z[rats]
        resetting = ended
        obs = obs_next
    envs.close()
    return FMDResult(config, lat.reshape(n, config.days, tpd), agent, snaps)


def render_trial(result: FMDResult, rat: int, day: int, start: str = "S", seed: int = 0,
                 weights_day: int | None = None) -> np.ndarray:
    """Frame (H, W, 3) uint8 of one trial of a trained rat on ``day``, its swim path drawn.

    The weights are frozen: the final ones, or those at the end of ``weights_day`` (a snapshot day).
    """
    env = gym.make("BrainSet/WaterMaze-v0", render_mode="rgb_array", **env_kwargs(result.config))
    env.reset(seed=seed)
    obs, _ = env.reset(options={"day": day, "start": start})
    one = PlaceCellActorCritic(1, result.agent.w.shape[1], result.agent.z.shape[1], beta=result.agent.beta)
    w, z = (result.agent.w, result.agent.z) if weights_day is None else result.snapshots[weights_day]
    one.w, one.z = w[rat:rat + 1], z[rat:rat + 1]
    rng = np.random.default_rng(seed)
    while True:
        obs, _, term, trunc, _ = env.step(int(one.act(obs[None], rng)[0]))
        if term or trunc:
            frame = env.render()
            env.close()
            return frame


def probe_occupancy(result: FMDResult, day: int, start: str = "S", seed: int = 0,
                    weights_day: int | None = None) -> np.ndarray:
    """Time per quadrant (n_rats, 4) in a probe trial on ``day`` (platform removed), weights frozen.

    Columns follow :data:`brainset_envs.analysis.water_maze.QUADRANTS` (target first), with the target
    the platform's quadrant on ``day``.
    """
    n = result.config.n_rats
    envs = gym.make_vec("BrainSet/WaterMaze-v0", num_envs=n, vectorization_mode="vector_entry_point",
                        **env_kwargs(result.config))
    obs, info = envs.reset(seed=seed, options={"day": day, "probe": True, "start": start})
    agent = PlaceCellActorCritic(n, result.agent.w.shape[1], result.agent.z.shape[1], beta=result.agent.beta)
    w, z = (result.agent.w, result.agent.z) if weights_day is None else result.snapshots[weights_day]
    agent.w, agent.z = w, z
    rng = np.random.default_rng(seed)
    xy = [np.stack([info["x"], info["y"]], axis=1)]
    while True:
        obs, _, term, trunc, info = envs.step(agent.act(obs, rng))
        xy.append(np.stack([info["x"], info["y"]], axis=1))
        if (term | trunc).all():  # probes all last probe_steps: every rat ends on the same step
            break
    envs.close()
    path = np.stack(xy, axis=1)  # (n_rats, steps + 1, 2)
    plat = np.stack([info["platform_x"], info["platform_y"]], axis=1)
    return np.array([quadrant_occupancy(path[i], plat[i]) for i in range(n)])


def plot_latency(result: FMDResult, path: str) -> None:
    """Mean escape latency per day (+- s.e.m. over rats), the reversal marked; written atomically."""
    # deferred: optional heavy dependency, imported only when used
    import matplotlib

    matplotlib.use("Agg")
    # deferred: optional heavy dependency, imported only when used
    import matplotlib.pyplot as plt

    cfg = result.config
    per_rat = result.latencies.mean(axis=2)
    mean = per_rat.mean(axis=0)
    sem = per_rat.std(axis=0, ddof=1) / np.sqrt(len(per_rat)) if len(per_rat) > 1 else 0 * mean
    days = np.arange(1, cfg.days + 1)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    ax.errorbar(days, mean, yerr=sem, marker="o", ms=4, capsize=2, color="tab:blue")
    if cfg.reversal_day is not None and cfg.reversal_day <= cfg.days:
        ax.axvline(cfg.reversal_day - 0.5, color="tab:red", ls="--", lw=1)
        ax.text(cfg.reversal_day - 0.3, mean.max() * 0.5, "platform moved\nto the opposite\nquadrant",
                color="tab:red", fontsize=8, va="center")
    ax.set(xlabel="day", ylabel="escape latency (steps)", ylim=(0, None), xticks=days,
           title=f"Place-cell actor-critic (Foster, Morris & Dayan 2000), {len(per_rat)} rats")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _atomic(path, lambda tmp: fig.savefig(tmp, format=os.path.splitext(path)[1][1:] or "png"))
    plt.close(fig)


def save_image(frame: np.ndarray, path: str) -> None:
    """Write an (H, W, 3) uint8 frame as a PNG, atomically."""
    # deferred: optional heavy dependency, imported only when used
    import matplotlib

    matplotlib.use("Agg")
    # deferred: optional heavy dependency, imported only when used
    import matplotlib.pyplot as plt

    _atomic(path, lambda tmp: plt.imsave(tmp, frame, format="png"))


def save_json(data: dict[str, Any], path: str) -> None:
    """Write ``data`` as JSON, atomically."""
    def write(tmp: str) -> None:
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1)

    _atomic(path, write)


def _atomic(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a result file is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
