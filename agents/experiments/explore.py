"""Tabular curiosity in a grid world: optimistic Q-learning on a prediction-error (or count) bonus.

    python scripts/explore.py                                   # 16 walkers, 21 x 21 four rooms, 3000 steps
    python scripts/explore.py --bonus count --out runs/explore_count
    python scripts/explore.py --bonus prediction --q-init 0     # zero-initialised values: under-explores
    python scripts/explore.py --layout open --size 10 --steps 500

Writes ``explore.json`` (coverage of every walker, the random walk's from the same start, their ratio)
and ``explore.png`` (coverage curves and the visit map) into ``--out``. The agent is
``agents.classic.curiosity``.
"""

from __future__ import annotations

import argparse

from agents.classic.curiosity import ExploreConfig, explore, save_exploration


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bonus", default="prediction", choices=["prediction", "count", "none"],
                   help="intrinsic reward: forward-model prediction error, 1/sqrt(visits), or none")
    p.add_argument("--walkers", type=int, default=16, help="independent walkers (each its own learner)")
    p.add_argument("--steps", type=int, default=3000, help="steps per walker")
    p.add_argument("--layout", default="four_rooms_21", help="EmpowermentGrid layout name")
    p.add_argument("--size", type=int, default=None, help="side of the 'open' layout")
    p.add_argument("--start", type=int, nargs=2, default=[1, 1], metavar=("ROW", "COL"), help="start cell")
    p.add_argument("--gamma", type=float, default=0.9, help="discount")
    p.add_argument("--alpha", type=float, default=1.0, help="Q-learning rate")
    p.add_argument("--q-init", type=float, default=None, help="initial action values (default 2/(1-gamma))")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/explore", help="output folder")
    a = p.parse_args(argv)

    env_kwargs = {"layout": a.layout, "start": a.start}
    if a.size is not None:
        env_kwargs["size"] = a.size
    cfg = ExploreConfig(n_agents=a.walkers, steps=a.steps, bonus=a.bonus, gamma=a.gamma, alpha=a.alpha,
                        q_init=a.q_init, seed=a.seed, env_kwargs=env_kwargs)
    try:
        result = explore(cfg, progress=True)
    except (ValueError, TypeError) as e:  # bad arguments: say which, without a traceback
        p.error(str(e))
    paths = save_exploration(result, a.out)
    summary = result.summary()
    print(f"coverage {summary['coverage_mean']:.3f} (min {min(summary['coverage']):.3f}) over {a.walkers} walkers; "
          f"wrote {', '.join(str(x) for x in paths)}")
