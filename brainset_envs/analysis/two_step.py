"""Ground truth and behavioural analysis for the two-step task (``BrainSet/TwoStep-v0``; Daw et al. 2011).

- Two reference agents that act on the env's observations (any library's agent sees the same):
  :class:`ModelFreeAgent` (TD learning of the first-stage values from the trial's reward, lambda = 1: the
  transition is ignored) and :class:`ModelBasedAgent` (learns the second-stage values, and plans the
  first-stage values through the known transition matrix). Both choose by softmax with inverse
  temperature ``beta``, from their own seeded generator.
- :func:`record_trials`: one row per trial (first-stage action, transition, reward, episode) from any policy.
- :func:`stay_probabilities`: P(repeat the first-stage action) after rewarded / unrewarded x common /
  uncommon trials (the 2 x 2 table of Daw et al. 2011, Fig. 2).
- :func:`stay_regression`: logistic regression of "stay" on the previous trial's reward, transition and
  their interaction (+-1 coding); the interaction coefficient is the model-based index, the reward
  coefficient the model-free one. :func:`lagged_regression` extends it over several past trials.

Model-based signature: stays after rewarded-common and unrewarded-uncommon trials exceed the other two
(a reward x transition interaction); model-free: stays rise after reward, whatever the transition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainset_envs.core.params import check_float, check_int

# observation slots of TwoStep (brainset_envs.tasks.two_step)
_FIRST, _A, _B, _PREV_ACTION, _PREV_REWARD = 0, 1, 2, slice(3, 5), 5


def _softmax_choice(q: np.ndarray, beta: float, rng: np.random.Generator) -> int:
    z = beta * (q - q.max())
    p = np.exp(z) / np.exp(z).sum()
    return int(rng.random() < p[1])


class _Agent:
    """Shared bookkeeping: reads the trial's events from consecutive observations."""

    def __init__(self, alpha: float = 0.5, beta: float = 5.0, seed: int = 0):
        self.alpha = check_float("alpha", alpha, 0.0, 1.0)
        self.beta = check_float("beta", beta, 0.0, 1e3)
        self.rng = np.random.default_rng(seed)
        self.q2 = np.full((2, 2), 0.5)  # (second-stage state, action)
        self.q1 = np.full(2, 0.5)
        self.reset()

    def reset(self) -> None:
        """A new episode: the reward probabilities are new; forget the learned values."""
        self.q2[:] = 0.5
        self.q1[:] = 0.5
        self.a1: int | None = None
        self.s2: int | None = None
        self.a2: int | None = None

    def act(self, obs: np.ndarray) -> int:
        obs = np.asarray(obs)
        if obs[_FIRST] > 0.5:
            if self.a1 is not None and self.s2 is not None and self.a2 is not None:  # the trial just finished
                # (a2 is set only after a1 and s2): learn from its reward
                self.learn(self.a1, self.s2, self.a2, float(obs[_PREV_REWARD]))
            self.a1 = _softmax_choice(self.first_values(), self.beta, self.rng)
            self.s2 = self.a2 = None
            return self.a1
        self.s2 = 0 if obs[_A] > 0.5 else 1
        self.a2 = _softmax_choice(self.q2[self.s2], self.beta, self.rng)
        return self.a2

    def first_values(self) -> np.ndarray:
        raise NotImplementedError

    def learn(self, a1: int, s2: int, a2: int, r: float) -> None:
        self.q2[s2, a2] += self.alpha * (r - self.q2[s2, a2])


class ModelFreeAgent(_Agent):
    """Model-free: ``Q1[a1] += alpha (r - Q1[a1])`` (TD(1): the trial's reward credits the first-stage choice
    directly, whatever the transition); ``Q2`` by the same delta rule; softmax choices."""

    def first_values(self) -> np.ndarray:
        return self.q1

    def learn(self, a1: int, s2: int, a2: int, r: float) -> None:
        super().learn(a1, s2, a2, r)
        self.q1[a1] += self.alpha * (r - self.q1[a1])


class ModelBasedAgent(_Agent):
    """Model-based: learns ``Q2`` by the delta rule and plans ``Q1[a] = sum_s P(s | a) max_a2 Q2[s, a2]``
    with the true transition matrix (``common_prob``; action 0 commonly leads to A); softmax choices."""

    def __init__(self, common_prob: float = 0.7, alpha: float = 0.5, beta: float = 5.0, seed: int = 0):
        self.common_prob = check_float("common_prob", common_prob, 0.0, 1.0)
        super().__init__(alpha, beta, seed)

    def first_values(self) -> np.ndarray:
        best = self.q2.max(axis=1)
        c = self.common_prob
        return np.array([c * best[0] + (1 - c) * best[1], c * best[1] + (1 - c) * best[0]])


# --- logs and analysis ----------------------------------------------------------------------------------


@dataclass
class TrialLog:
    """One row per completed trial: ``first_action``, ``state`` (0 A, 1 B), ``common`` (bool),
    ``second_action``, ``reward``, ``episode``."""

    first_action: np.ndarray
    state: np.ndarray
    common: np.ndarray
    second_action: np.ndarray
    reward: np.ndarray
    episode: np.ndarray

    def __len__(self) -> int:
        return len(self.first_action)


def record_trials(env, policy, episodes: int = 10, seed: int = 0, on_reset=None) -> TrialLog:
    """Run ``policy(obs) -> action`` for ``episodes`` episodes of a TwoStep env (``on_reset()`` is called at
    each episode start, e.g. ``agent.reset``) and log every trial from the env's ``info``."""
    check_int("episodes", episodes, 1, 10_000_000)
    rows: list[tuple[int, int, int, int, float, int]] = []
    second_state = -1
    obs, info = env.reset(seed=seed)
    for ep in range(episodes):
        if on_reset is not None:
            on_reset()
        done = False
        while not done:
            a = policy(obs)
            obs, r, term, trunc, info = env.step(a)
            done = term or trunc
            if info["stage"] == 0:  # a second-stage step just ended the trial
                rows.append((info["first_action"], second_state, info["common"], a, r, ep))
            else:
                second_state = info["state"] - 1
        obs, info = env.reset()
    arr = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return TrialLog(arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2].astype(bool),
                    arr[:, 3].astype(np.int64), arr[:, 4], arr[:, 5].astype(np.int64))


def _pairs(log: TrialLog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stay, rewarded, common) of each trial that has a next trial in the same episode."""
    same = log.episode[1:] == log.episode[:-1]
    stay = (log.first_action[1:] == log.first_action[:-1])[same]
    return stay, (log.reward[:-1] > 0)[same], log.common[:-1][same]


def stay_probabilities(log: TrialLog) -> np.ndarray:
    """P(stay) as a 2 x 2 array: rows rewarded / unrewarded, columns common / uncommon (NaN where no
    trial of that kind)."""
    stay, rew, com = _pairs(log)
    out = np.full((2, 2), np.nan)
    for i, r in enumerate((True, False)):
        for j, c in enumerate((True, False)):
            sel = (rew == r) & (com == c)
            if sel.any():
                out[i, j] = stay[sel].mean()
    return out


def _logistic(X: np.ndarray, y: np.ndarray, ridge: float = 1e-6, iters: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood logistic regression by Newton's method (tiny ridge for separable data):
    coefficients and their standard errors."""
    w = np.zeros(X.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        H = (X * (p * (1 - p))[:, None]).T @ X + ridge * np.eye(X.shape[1])
        step = np.linalg.solve(H, X.T @ (y - p) - ridge * w)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    H = (X * (p * (1 - p))[:, None]).T @ X + ridge * np.eye(X.shape[1])
    return w, np.sqrt(np.diag(np.linalg.inv(H)))


def stay_regression(log: TrialLog) -> dict[str, float]:
    """Logistic regression ``stay ~ 1 + reward + transition + reward x transition`` on the previous trial
    (reward +1/-1, transition +1 common / -1 uncommon). Returns the coefficients ``intercept``, ``reward``
    (model-free index), ``transition``, ``interaction`` (the model-based index), and ``*_se``."""
    stay, rew, com = _pairs(log)
    if len(stay) < 8:
        raise ValueError(f"the log has {len(stay)} pairs of consecutive trials; need at least 8")
    r = np.where(rew, 1.0, -1.0)
    c = np.where(com, 1.0, -1.0)
    X = np.stack([np.ones_like(r), r, c, r * c], axis=1)
    w, se = _logistic(X, stay.astype(np.float64))
    names = ("intercept", "reward", "transition", "interaction")
    out = {n: float(v) for n, v in zip(names, w, strict=True)}
    out.update({f"{n}_se": float(v) for n, v in zip(names, se, strict=True)})
    return out


def model_based_index(log: TrialLog) -> float:
    """The reward x transition interaction of :func:`stay_regression` (> 0: model-based choice)."""
    return stay_regression(log)["interaction"]


def lagged_regression(log: TrialLog, lags: int = 3) -> dict[str, np.ndarray]:
    """Logistic regression of the first-stage choice (action 0 = +1) on the past ``lags`` trials of the same
    episode: for each lag ``l`` the predictors ``c * reward``, ``c * transition`` and ``c * reward *
    transition`` where ``c`` is the choice ``l`` trials back (+-1 coding throughout), plus ``c`` itself
    (perseveration). Returns arrays over lags: ``reward`` (model-free), ``interaction`` (model-based),
    ``transition``, ``choice``, and the ``intercept``."""
    check_int("lags", lags, 1, 50)
    ch = np.where(log.first_action == 0, 1.0, -1.0)
    r = np.where(log.reward > 0, 1.0, -1.0)
    c = np.where(log.common, 1.0, -1.0)
    rows = []
    ys = []
    for t in range(lags, len(ch)):
        if log.episode[t - lags] != log.episode[t]:
            continue
        x = [1.0]
        for lag in range(1, lags + 1):
            k = t - lag
            x += [ch[k] * r[k], ch[k] * c[k], ch[k] * r[k] * c[k], ch[k]]
        rows.append(x)
        ys.append(ch[t] > 0)
    if len(rows) < 8 * lags:
        raise ValueError(f"the log has {len(rows)} usable trials for lags={lags}; need at least {8 * lags}")
    w, _ = _logistic(np.array(rows), np.array(ys, dtype=np.float64))
    per = w[1:].reshape(lags, 4)
    return {"intercept": np.array(w[0]), "reward": per[:, 0], "transition": per[:, 1],
            "interaction": per[:, 2], "choice": per[:, 3]}
