"""Record episodes of any BrainSet env to MP4 or GIF (imageio; MP4 through imageio-ffmpeg's bundled ffmpeg).

A policy is a callable ``policy(obs, info) -> action``; :func:`make_policy` builds the built-in ones.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from brainset_envs.core.files import atomic_path
from brainset_envs.core.ids import env_id_error

Policy = Callable[[Any, dict], Any]
POLICIES = ("random", "oracle")


def make_policy(name: str, env: gym.Env) -> Policy:
    """'random' (uniform actions) or 'oracle' (the task's ground-truth action, where it has one)."""
    if name == "random":
        return lambda obs, info: env.action_space.sample()
    if name == "oracle":
        oracle = getattr(env.unwrapped, "oracle_action", None)
        if oracle is None:
            raise ValueError(f"policy='oracle': {env.spec.id if env.spec else env} has no oracle_action; "
                             f"choose one of {POLICIES} the task supports")
        return lambda obs, info: oracle()
    raise ValueError(f"policy={name!r} is not known; choose one of {POLICIES}")


SUFFIXES = (".mp4", ".gif")


def check_record_args(path: str | os.PathLike, n_episodes: int = 3, fps: float | None = None,
                      hold_frames: int = 1, max_frames: int | None = None,
                      max_steps_per_episode: int = 1000) -> None:
    """ValueError naming the argument, its value and what is allowed (before anything is written)."""
    suffix = Path(path).suffix
    if suffix not in SUFFIXES:
        raise ValueError(f"path={str(path)!r} must end in .mp4 or .gif (got {suffix or 'no suffix'!r})")
    for name, value, lo in (("n_episodes", n_episodes, 1), ("hold_frames", hold_frames, 1),
                            ("max_steps_per_episode", max_steps_per_episode, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise ValueError(f"{name}={value!r} must be an integer >= {lo}")
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer))
                                   or max_frames < 1):
        raise ValueError(f"max_frames={max_frames!r} must be an integer >= 1 or None")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float, np.number))
                            or not np.isfinite(fps) or not 0 < fps <= 1000):
        raise ValueError(f"fps={fps!r} must be a number > 0 and <= 1000 (or None: the env's render_fps)")


def record_episodes(env: gym.Env, path: str | os.PathLike, n_episodes: int = 3, policy: Policy | str = "random",
                    seed: int = 0, fps: float | None = None, max_steps_per_episode: int = 1000,
                    hold_frames: int = 1, max_frames: int | None = None) -> dict[str, Any]:
    """Run ``n_episodes`` with ``policy`` on ``env`` (render_mode 'rgb_array') and write them to ``path``.

    The format follows the suffix (.mp4 or .gif). Frames go to the video writer one at a time (an MP4
    never holds the episodes in memory; GIF encoding keeps its paletted frames until the end), into a
    temporary file that replaces ``path`` only when complete. ``hold_frames`` repeats each frame (useful
    for one-step trial tasks, so a viewer sees each trial); ``max_frames`` caps the video. A policy with a
    ``reset()`` method (e.g. a recurrent agent) is reset at the start of every episode. Returns a summary
    (episodes, returns, frames, path). Bad arguments raise ValueError before anything is written.
    """
    import imageio.v2 as imageio  # deferred: optional and slow to import; only writing a video needs it

    path = Path(path)
    check_record_args(path, n_episodes, fps, hold_frames, max_frames, max_steps_per_episode)
    if env.render_mode != "rgb_array":
        raise ValueError(f"env.render_mode={env.render_mode!r}; make the env with render_mode='rgb_array'")
    pol = make_policy(policy, env) if isinstance(policy, str) else policy
    env.action_space.seed(seed)
    fps = fps or env.metadata.get("render_fps", 10)
    returns: list[float] = []
    n_frames = 0
    cap = max_frames or float("inf")
    with atomic_path(path) as tmp:
        if path.suffix == ".gif":
            writer = imageio.get_writer(tmp, mode="I", duration=1000.0 / fps, loop=0)
        else:
            writer = imageio.get_writer(tmp, fps=fps, macro_block_size=1)

        def emit(frame: Any) -> None:  # what env.render() returns: an HxWx3 array in rgb_array mode
            nonlocal n_frames
            frame = frame if path.suffix == ".gif" else _even(frame)
            for _ in range(hold_frames):
                writer.append_data(frame)
            n_frames += hold_frames

        try:
            obs, info = env.reset(seed=seed)
            for ep in range(n_episodes):
                if n_frames >= cap:
                    break
                if ep:
                    obs, info = env.reset()
                if hasattr(pol, "reset"):
                    pol.reset()
                emit(env.render())
                total = 0.0
                for _ in range(max_steps_per_episode):
                    obs, r, term, trunc, info = env.step(pol(obs, info))
                    total += float(r)
                    emit(env.render())
                    if term or trunc or n_frames >= cap:
                        break
                returns.append(total)
        finally:
            writer.close()
    return {"path": str(path), "episodes": len(returns), "returns": returns, "frames": n_frames}


def _even(frame: np.ndarray) -> np.ndarray:
    """Crop to even height and width (H.264 needs them)."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; give an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; give an integer >= 1")
    return value


def _fps(text: str) -> float:
    """argparse type: frames per second, a number in (0, 1000]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a number > 0 and <= 1000") from None
    if not (np.isfinite(value) and 0 < value <= 1000):
        raise argparse.ArgumentTypeError(f"{text} is not allowed; give a number > 0 and <= 1000")
    return value


def output_path_type(text: str) -> str:
    """argparse type: a .mp4 or .gif path."""
    if Path(text).suffix not in SUFFIXES:
        raise argparse.ArgumentTypeError(f"{text!r} must end in .mp4 or .gif")
    return text


def render_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Record episodes of an env with a random or "
                                "ground-truth policy (or a trained agent: render.py --checkpoint RUN --help).")
    p.add_argument("--env", default="BrainSet/OrientationDiscrimination-v0", help="a registered env id")
    p.add_argument("--episodes", type=_positive_int, default=3, help="episodes to record (>= 1)")
    p.add_argument("--policy", default="random", choices=POLICIES,
                   help="random, or oracle (the task's ground truth, where it has one)")
    p.add_argument("--out", type=output_path_type, default=None,
                   help="output .mp4 or .gif (default runs/<env>.mp4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=_fps, default=None, help="frames per second (default: the env's render_fps)")
    p.add_argument("--hold", type=_positive_int, default=1, help="repeat each frame this many times (>= 1)")
    p.add_argument("--max-frames", type=_positive_int, default=None, help="frame cap (default: none)")
    p.add_argument("--kwargs", default="{}", help="JSON dict of env constructor arguments")
    p.add_argument("--checkpoint", help="record a trained agent instead (a run folder or .pt file)")
    return p


def main(argv: list[str] | None = None) -> int:
    """``scripts/render.py`` without ``--checkpoint``: every argument is checked (exit status 2 with a
    one-line message) before the env is stepped or the output written."""
    p = render_parser()
    args = p.parse_args(argv)
    if (msg := env_id_error(args.env)) is not None:
        p.error(msg)
    try:
        kwargs = json.loads(args.kwargs)
    except json.JSONDecodeError as e:
        p.error(f"argument --kwargs: {args.kwargs!r} is not JSON ({e.msg}); give a dict, e.g. "
                '\'{"trials_per_episode": 10}\'')
    if not isinstance(kwargs, dict):
        p.error(f"argument --kwargs: {args.kwargs!r} is not a JSON object; give a dict, e.g. "
                '\'{"trials_per_episode": 10}\'')
    try:
        env = gym.make(args.env, render_mode="rgb_array", **kwargs)
    except (TypeError, ValueError) as e:
        p.error(f"argument --kwargs: {args.env} rejects {args.kwargs}: {e}")
    try:
        policy = make_policy(args.policy, env)
    except ValueError as e:
        env.close()
        p.error(f"argument --policy: {e}")
    out = args.out or f"runs/{args.env.split('/')[-1].split(':')[-1]}.mp4"
    try:
        res = record_episodes(env, out, args.episodes, policy, seed=args.seed, fps=args.fps,
                              hold_frames=args.hold, max_frames=args.max_frames)
    finally:
        env.close()
    print(f"wrote {res['path']}: {res['episodes']} episodes, {res['frames']} frames, returns {res['returns']}")
    return 0
