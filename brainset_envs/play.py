"""Play a BrainSet task with the keyboard: ``python -m brainset_envs.play BrainSet/OrientationDiscrimination-v0``.

Trial tasks wait for a key on each step (gymnasium's ``play`` utility steps at a fixed rate with a no-op
action, which would answer trials for you). Keys: the task's ``play_keys`` if it defines them, otherwise
1..9 for actions 0..8; Esc or q quits. For OrientationDiscrimination (right arrow = clockwise, left arrow =
counter-clockwise) the session ends with your accuracy per offset and your fitted 75% threshold: a human
psychometric curve.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import gymnasium as gym
import numpy as np

from brainset_envs.analysis.psychophysics import fit_weibull, psychometric_table
from brainset_envs.core.ids import env_id_error

QUIT = "quit"


def default_keys(env: gym.Env) -> dict[str, Any]:
    """Key name -> action for ``env``."""
    keys = getattr(env.unwrapped, "play_keys", None)
    if keys:
        return {k: a for k, a in keys.items() if env.action_space.contains(a)}
    if isinstance(env.action_space, gym.spaces.Discrete):
        return {str(i + 1): i for i in range(min(int(env.action_space.n), 9))}
    raise ValueError(f"no keyboard mapping for the action space {env.action_space}")


def _pygame_keys() -> Iterator[str]:
    """Key names from the pygame window, blocking until each key press."""
    import pygame  # deferred: pygame (SDL) loads only when rendering

    while True:
        ev = pygame.event.wait()
        if ev.type == pygame.QUIT:
            yield QUIT
        elif ev.type == pygame.KEYDOWN:
            yield pygame.key.name(ev.key)


def display_problem(environ: dict | None = None, platform: str | None = None) -> str | None:
    """Why a window cannot open here (None when it can): SDL told to draw nowhere (SDL_VIDEODRIVER=dummy or
    offscreen), or on Linux neither DISPLAY nor WAYLAND_DISPLAY set."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    driver = env.get("SDL_VIDEODRIVER", "")
    if driver in ("dummy", "offscreen"):
        return (f"no display: SDL_VIDEODRIVER={driver} draws nowhere, so the game window would never appear; "
                f"unset it (and run where a display is available) to play")
    if platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return ("no display: neither DISPLAY nor WAYLAND_DISPLAY is set, so the game window cannot open; "
                "run it in a desktop session (or with X forwarding)")
    return None


def play(env_id: str, n_trials: int = 100, seed: int | None = None, keys: Iterable[str] | None = None,
         env_kwargs: dict | None = None, verbose: bool = True) -> dict[str, Any]:
    """Play ``env_id`` in a window for up to ``n_trials`` steps. ``keys`` replaces the keyboard (tests, demos).

    Returns the steps played, total reward, and for tasks whose info has ``correct`` and
    ``answered_offset_deg`` the per-offset table and Weibull fit.
    """
    if keys is None and (why := display_problem()) is not None:
        raise RuntimeError(why)  # waiting for key presses from a window that never shows would hang
    env = gym.make(env_id, render_mode="human", **(env_kwargs or {}))
    mapping = default_keys(env)
    if verbose:
        names = ", ".join(f"{k}={v}" for k, v in mapping.items())
        print(f"{env_id}: keys {names}; Esc or q quits")
    source = iter(keys) if keys is not None else _pygame_keys()
    env.reset(seed=seed)
    total, steps, offsets, correct = 0.0, 0, [], []
    try:
        while steps < n_trials:
            key = next(source, QUIT)
            if key in (QUIT, "escape", "q"):
                break
            if key not in mapping:
                continue
            _, r, term, trunc, info = env.step(mapping[key])
            total += float(r)
            steps += 1
            if "correct" in info and "answered_offset_deg" in info and info["correct"] >= 0:
                offsets.append(info["answered_offset_deg"])
                correct.append(info["correct"])
            if term or trunc:
                env.reset()
    finally:
        env.close()
    result: dict[str, Any] = {"steps": steps, "total_reward": total}
    if offsets:
        result.update(_summary(np.array(offsets), np.array(correct), verbose))
    return result


def _summary(offsets: np.ndarray, correct: np.ndarray, verbose: bool) -> dict[str, Any]:
    lv, k, n = psychometric_table(offsets, correct)
    out: dict[str, Any] = {"offsets": lv.tolist(), "n_correct": k.tolist(), "n_trials": n.tolist()}
    if verbose:
        print("offset (deg)  accuracy  trials")
        for x, kk, nn in zip(lv, k, n, strict=True):
            print(f"{x:11.2f}  {kk / nn:8.2f}  {int(nn):6d}")
    if len(lv) >= 2:
        fit = fit_weibull(lv, k, n)
        out["fit"] = fit.to_dict()
        if verbose:
            print(f"your 75% threshold: {fit.threshold:.2f} deg (Weibull alpha={fit.alpha:.2f}, beta={fit.beta:.2f})")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("env_id", nargs="?", default="BrainSet/OrientationDiscrimination-v0")
    p.add_argument("--trials", type=int, default=100, help="number of steps (trials) to play, >= 1")
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    if (msg := env_id_error(args.env_id, "env_id")) is not None:
        p.error(msg)
    if args.trials < 1:
        p.error(f"argument --trials: {args.trials} is not allowed; give an integer >= 1")
    if (why := display_problem()) is not None:
        p.error(why)
    try:
        env = gym.make(args.env_id)
        default_keys(env)
        env.close()
    except ValueError as e:
        p.error(f"argument env_id: {args.env_id} cannot be played with the keyboard ({e})")
    play(args.env_id, n_trials=args.trials, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
