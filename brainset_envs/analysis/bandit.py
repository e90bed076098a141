"""Ground truth for the Bernoulli bandit (``BrainSet/Bandit-v0``): the Bayes-optimal policy by exact dynamic
programming over the posterior counts, a brute-force check of it, and Thompson sampling / UCB1 references.

Prior: every arm ``p_a ~ Beta(1, 1)`` independently, or (``correlated=True``, 2 arms) ``p_0 ~ Beta(1, 1)``
and ``p_1 = 1 - p_0``. Regret of a policy = ``horizon * E[max_a p_a] - E[total reward]``, with
``E[max p] = k / (k + 1)`` for ``k`` independent uniform arms and ``3 / 4`` for the correlated pair. The
Bayes-optimal expected regret is the floor any learner can reach on this prior.

Posterior under the correlated prior: a success of arm 0 or a failure of arm 1 is evidence ``p``; a
failure of arm 0 or a success of arm 1 is evidence ``1 - p``. So the posterior of ``p_0`` is
``Beta(1 + s_0 + f_1, 1 + f_0 + s_1)``, and both arms are equally informative: the Bayes-optimal policy is
greedy on the posterior mean (the dynamic programme confirms it).

Counts ``state`` are an integer array ``(k, 2)``: successes and failures per arm.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy.special import betaln

from brainset_envs.core.params import check_int


def expected_max_p(arms: int, correlated: bool = False) -> float:
    """``E[max_a p_a]`` under the prior: ``k / (k + 1)`` (independent) or ``3 / 4`` (correlated pair)."""
    return 0.75 if correlated else arms / (arms + 1.0)


def _check(arms: int, horizon: int, correlated: bool, max_horizon: int) -> None:
    check_int("arms", arms, 2, 64)
    check_int("horizon", horizon, 1, max_horizon)
    if correlated and arms != 2:
        raise ValueError(f"correlated=True needs arms=2; got arms={arms!r}")


# --- the Bayes-optimal policy ---------------------------------------------------------------------------


@dataclass
class BayesOptimal:
    """The Bayes-optimal policy of a finite-horizon Bernoulli bandit and its value.

    ``value``: expected total reward from the start; ``regret = horizon * E[max p] - value``.
    ``action(counts)``: the optimal arm for the counts so far (``counts[a] = (successes, failures)``),
    ties broken towards the lowest arm index. Built by :func:`bayes_optimal`.
    """

    arms: int
    horizon: int
    correlated: bool
    value: float
    regret: float
    # the decision tables (k = 2) or a memoised Q function (k > 2)
    _table: Callable[[tuple[tuple[int, ...], ...]], Any]

    def q_values(self, counts: np.ndarray) -> np.ndarray:
        """Expected total reward to the end of the episode of pulling each arm now, then playing optimally."""
        counts = np.asarray(counts, dtype=np.int64).reshape(self.arms, 2)
        if int(counts.sum()) >= self.horizon:
            raise ValueError(f"counts={counts.tolist()} sum to {int(counts.sum())}: the horizon {self.horizon} "
                             "is used up")
        return np.asarray(self._table(tuple(map(tuple, counts.tolist()))), dtype=np.float64)

    def action(self, counts: np.ndarray) -> int:
        if isinstance(self._table, _TwoArmTables):
            c = np.asarray(counts, dtype=np.int64).reshape(2, 2)
            if int(c.sum()) >= self.horizon:
                raise ValueError(f"counts={c.tolist()} sum to {int(c.sum())}: the horizon {self.horizon} is used up")
            return self._table.action(tuple(map(tuple, c.tolist())))
        q = self.q_values(counts)
        return int(np.flatnonzero(q >= q.max() - 1e-12)[0])

    def act(self, obs: np.ndarray, counts: np.ndarray) -> int:
        """Convenience for the env: ``counts`` kept by :class:`CountTracker` from the observations."""
        return self.action(counts)


def _posterior_means(state: tuple, correlated: bool) -> np.ndarray:
    c = np.asarray(state, dtype=np.float64)
    if correlated:
        a = 1.0 + c[0, 0] + c[1, 1]
        b = 1.0 + c[0, 1] + c[1, 0]
        m0 = a / (a + b)
        return np.array([m0, 1.0 - m0])
    return (c[:, 0] + 1.0) / (c.sum(axis=1) + 2.0)


def _memo_q(arms: int, horizon: int, correlated: bool):
    """Q(state) by memoised recursion over the counts; arms are exchangeable under the independent prior,
    so values are cached on the sorted counts (states up to permutation)."""

    @cache
    def value(state: tuple) -> float:
        if sum(s + f for s, f in state) >= horizon:
            return 0.0
        return max(q(state))

    def key(state: tuple) -> tuple:
        if correlated:  # sufficient statistic: (evidence for p, evidence for 1 - p), and time
            return ((state[0][0] + state[1][1], state[0][1] + state[1][0]), (0, 0))
        return tuple(sorted(state))

    def v(state: tuple) -> float:
        return value(key(state))

    def q(state: tuple) -> list[float]:
        means = _posterior_means(state, correlated)
        out = []
        for a in range(arms):
            win = tuple((s + (i == a), f) for i, (s, f) in enumerate(state))
            lose = tuple((s, f + (i == a)) for i, (s, f) in enumerate(state))
            m = float(means[a])
            out.append(m * (1.0 + v(win)) + (1.0 - m) * v(lose))
        return out

    return q, v


class _TwoArmTables:
    """Vectorised dynamic programme for 2 independent arms: level ``n`` (pulls so far) holds arrays over
    ``(s0, f0, s1)`` (``f1 = n - s0 - f0 - s1``); O(horizon^4 / 24) states, about 1 s for horizon 100.
    Keeps the optimal decision of every state (one byte each: 25 MB at horizon 100); the values are kept
    only for horizons up to 40 (``q_values``)."""

    def __init__(self, horizon: int):
        self.horizon = horizon
        self.pull1: list[np.ndarray] = [None] * horizon  # type: ignore[list-item]
        self.values: list[np.ndarray] | None = [None] * (horizon + 1) if horizon <= 40 else None  # type: ignore[list-item]
        v_next = np.zeros((horizon + 1,) * 3)
        if self.values is not None:
            self.values[horizon] = v_next
        for n in range(horizon - 1, -1, -1):
            r = np.arange(n + 1, dtype=np.float64)
            s0, f0, s1 = r[:, None, None], r[None, :, None], r[None, None, :]
            f1 = n - s0 - f0 - s1
            m0 = (s0 + 1.0) / (s0 + f0 + 2.0)
            m1 = (s1 + 1.0) / (s1 + np.maximum(f1, 0.0) + 2.0)
            vn = v_next  # level n + 1, indexed (s0, f0, s1) up to n + 1
            q0 = m0 * (1.0 + vn[1: n + 2, : n + 1, : n + 1]) + (1.0 - m0) * vn[: n + 1, 1: n + 2, : n + 1]
            q1 = m1 * (1.0 + vn[: n + 1, : n + 1, 1: n + 2]) + (1.0 - m1) * vn[: n + 1, : n + 1, : n + 1]
            self.pull1[n] = q1 > q0 + 1e-12  # ties go to arm 0
            v_next = np.maximum(q0, q1)
            if self.values is not None:
                self.values[n] = v_next
        self.value = float(v_next[0, 0, 0])

    def action(self, state: tuple) -> int:
        (s0, f0), (s1, f1) = state
        return int(self.pull1[s0 + f0 + s1 + f1][s0, f0, s1])

    def __call__(self, state: tuple) -> list[float]:
        if self.values is None:
            raise ValueError(f"q_values are kept for horizons <= 40 (2 independent arms); horizon={self.horizon}: "
                             "use action()")
        (s0, f0), (s1, f1) = state
        vn = self.values[s0 + f0 + s1 + f1 + 1]
        m0, m1 = (s0 + 1.0) / (s0 + f0 + 2.0), (s1 + 1.0) / (s1 + f1 + 2.0)
        return [m0 * (1.0 + vn[s0 + 1, f0, s1]) + (1.0 - m0) * vn[s0, f0 + 1, s1],
                m1 * (1.0 + vn[s0, f0, s1 + 1]) + (1.0 - m1) * vn[s0, f0, s1]]


def bayes_optimal(arms: int = 2, horizon: int = 100, correlated: bool = False) -> BayesOptimal:
    """The Bayes-optimal policy for Beta(1, 1) priors and its expected regret, by exact dynamic programming.

    Two independent arms use a vectorised programme (horizon <= 200, about 1 s at 100); the correlated
    pair reduces to one Beta posterior (any horizon <= 10,000); more arms use memoised recursion over the
    sorted counts, practical for small horizons (arms = 3: horizon <= 20 or so).
    """
    _check(arms, horizon, correlated, 200 if (arms == 2 and not correlated) else 10_000)
    if arms == 2 and not correlated:
        tables = _TwoArmTables(horizon)
        value = tables.value
        table = tables
    else:
        q, _ = _memo_q(arms, horizon, correlated)
        start = tuple((0, 0) for _ in range(arms))
        value = max(q(start))
        table = q
    regret = horizon * expected_max_p(arms, correlated) - value
    return BayesOptimal(arms, horizon, correlated, float(value), float(regret), table)


# --- brute force (an independent check for tiny horizons) ---------------------------------------------------


def brute_force_value(arms: int, horizon: int, correlated: bool = False) -> float:
    """The best expected total reward over **every** deterministic policy (a decision tree over the
    outcome histories), with the probability of each history integrated exactly against the prior:
    ``P(history) = prod_a B(s_a + 1, f_a + 1)`` (independent) or ``B(s_0 + f_1 + 1, f_0 + s_1 + 1)``
    (correlated). No posterior means, no dynamic programme: for checking :func:`bayes_optimal` on small
    horizons (exponential in the horizon: <= 8)."""
    _check(arms, horizon, correlated, 8)

    def log_prob(counts: tuple) -> float:
        if correlated:
            (s0, f0), (s1, f1) = counts
            return float(betaln(s0 + f1 + 1, f0 + s1 + 1))
        return float(sum(betaln(s + 1, f + 1) for s, f in counts))

    def best(counts: tuple, depth: int) -> float:
        """max over policies of sum over histories h from here of P(h and the past) * rewards in h."""
        if depth == horizon:
            return 0.0
        best_total = -1.0
        for a in range(arms):
            win = tuple((s + (i == a), f) for i, (s, f) in enumerate(counts))
            lose = tuple((s, f + (i == a)) for i, (s, f) in enumerate(counts))
            # the policy's subtree after each outcome is chosen independently: enumerate both maxima
            total = np.exp(log_prob(win)) + best(win, depth + 1) + best(lose, depth + 1)
            best_total = max(best_total, total)
        return best_total

    return best(tuple((0, 0) for _ in range(arms)), 0)


def enumerate_policies_value(arms: int, horizon: int, correlated: bool = False) -> float:
    """The same maximum found by listing every deterministic policy explicitly (a map from each history to
    an arm) and evaluating each one by summing over all outcome histories; exponential: horizon <= 2."""
    _check(arms, horizon, correlated, 2)
    # histories: tuples of (arm, outcome) pairs; a policy assigns an arm to every history of length < horizon
    histories: list[tuple] = [()]
    frontier: list[tuple] = [()]
    for _ in range(horizon - 1):
        frontier = [h + ((a, o),) for h in frontier for a in range(arms) for o in (0, 1)]
        histories += frontier

    def log_prob(history: tuple) -> float:
        c = np.zeros((arms, 2), np.int64)
        for a, o in history:
            c[a, 1 - o] += 1
        if correlated:
            return float(betaln(c[0, 0] + c[1, 1] + 1, c[0, 1] + c[1, 0] + 1))
        return float(sum(betaln(s + 1, f + 1) for s, f in c))

    best = -1.0
    for choice in itertools.product(range(arms), repeat=len(histories)):
        policy = dict(zip(histories, choice, strict=True))
        total = 0.0
        stack: list[tuple[tuple[int, int], ...]] = [()]
        while stack:
            h = stack.pop()
            if len(h) == horizon:
                total += np.exp(log_prob(h)) * sum(o for _, o in h)
                continue
            a = policy[h]
            stack += [h + ((a, 1),), h + ((a, 0),)]
        best = max(best, total)
    return best


# --- reference policies by Monte Carlo ---------------------------------------------------------------------


def _sample_arms(rng: np.random.Generator, n: int, arms: int, correlated: bool) -> np.ndarray:
    if correlated:
        p0 = rng.random(n)
        return np.stack([p0, 1.0 - p0], axis=1)
    return rng.random((n, arms))


def simulate_regret(policy: str, arms: int = 2, horizon: int = 100, correlated: bool = False,
                    episodes: int = 2000, seed: int = 0, ucb_c: float = 2.0) -> dict[str, float]:
    """Mean expected regret (``sum_t max p - p[a_t]``) and its standard error over ``episodes`` bandits
    drawn from the prior, for ``policy`` in 'thompson' (posterior sampling with the right posterior),
    'ucb' (UCB1: mean + sqrt(ucb_c * ln t / n_a), each arm pulled once first), 'greedy' (posterior
    mean), 'random'. Vectorised over episodes; reproducible with ``seed``."""
    _check(arms, horizon, correlated, 1_000_000)
    check_int("episodes", episodes, 1, 10_000_000)
    if policy not in ("thompson", "ucb", "greedy", "random"):
        raise ValueError(f"policy={policy!r} is not known; choose one of ['thompson', 'ucb', 'greedy', 'random']")
    rng = np.random.default_rng(seed)
    p = _sample_arms(rng, episodes, arms, correlated)
    rows = np.arange(episodes)
    s = np.zeros((episodes, arms))
    f = np.zeros((episodes, arms))
    regret = np.zeros(episodes)
    pmax = p.max(axis=1)
    for t in range(horizon):
        if correlated:
            a_post, b_post = 1.0 + s[:, 0] + f[:, 1], 1.0 + f[:, 0] + s[:, 1]
        if policy == "random":
            a = rng.integers(0, arms, episodes)
        elif policy == "thompson":
            if correlated:
                d = rng.beta(a_post, b_post)
                a = (d < 0.5).astype(np.int64)
            else:
                a = rng.beta(s + 1.0, f + 1.0).argmax(axis=1)
        elif policy == "greedy":
            if correlated:
                a = (a_post < b_post).astype(np.int64)
            else:
                a = ((s + 1.0) / (s + f + 2.0)).argmax(axis=1)
        else:  # ucb
            n = s + f
            if t < arms:
                a = np.full(episodes, t)
            else:
                a = (s / n + np.sqrt(ucb_c * np.log(t) / n)).argmax(axis=1)
        won = rng.random(episodes) < p[rows, a]
        s[rows, a] += won
        f[rows, a] += ~won
        regret += pmax - p[rows, a]
    return {"regret": float(regret.mean()), "se": float(regret.std(ddof=1) / np.sqrt(episodes)) if episodes > 1
            else float("nan"), "episodes": episodes}


def thompson_regret(arms: int = 2, horizon: int = 100, correlated: bool = False, episodes: int = 2000,
                    seed: int = 0) -> dict[str, float]:
    """Thompson sampling's expected regret on the prior (Monte Carlo, see :func:`simulate_regret`)."""
    return simulate_regret("thompson", arms, horizon, correlated, episodes, seed)


def ucb_regret(arms: int = 2, horizon: int = 100, correlated: bool = False, episodes: int = 2000,
               seed: int = 0) -> dict[str, float]:
    """UCB1's expected regret on the prior (Monte Carlo, see :func:`simulate_regret`)."""
    return simulate_regret("ucb", arms, horizon, correlated, episodes, seed)


# --- driving the env --------------------------------------------------------------------------------------


class CountTracker:
    """Successes and failures per arm, read from the env's observations (one-hot previous arm, previous
    reward): what any agent of the env can know. ``update(obs)`` after each step; ``reset()`` per episode."""

    def __init__(self, arms: int):
        self.arms = arms
        self.counts = np.zeros((arms, 2), np.int64)

    def reset(self) -> None:
        self.counts[:] = 0

    def update(self, obs: np.ndarray) -> None:
        onehot = np.asarray(obs[: self.arms])
        if onehot.max() > 0:
            a = int(onehot.argmax())
            self.counts[a, 0 if obs[self.arms] > 0.5 else 1] += 1


def run_policy(env, choose, episodes: int = 100, seed: int = 0) -> dict[str, float]:
    """Play ``episodes`` episodes of a Bandit env with ``choose(counts) -> arm`` (counts from the
    observations); return the mean total reward and mean ``info['expected_regret']`` at the end."""
    arms = int(env.action_space.n)
    tracker = CountTracker(arms)
    totals, regrets = [], []
    obs, info = env.reset(seed=seed)
    for _ in range(episodes):
        tracker.reset()
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, info = env.step(choose(tracker.counts))
            tracker.update(obs)
            total += r
            done = term or trunc
        totals.append(total)
        regrets.append(info["expected_regret"])
        obs, info = env.reset()
    return {"reward": float(np.mean(totals)), "regret": float(np.mean(regrets)),
            "regret_se": float(np.std(regrets, ddof=1) / np.sqrt(len(regrets))) if len(regrets) > 1 else float("nan")}
