"""Command-line front ends (``scripts/train.py``, ``scripts/render.py``): argument parsing only; the work
happens in :mod:`agents.trainer` and the run modules (:mod:`agents.run_folder`, ...)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from agents.build import load_agent
from agents.config import Config, device_problem, help_table, parse_override, resolve_config
from agents.policy import record_video
from agents.run_folder import checkpoint_path, command_line, latest_run_dir
from agents.trainer import NonFiniteError, preflight, resolve_device, train
from brainset_envs.recording import _positive_int, output_path_type


def train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Train an agent (architecture x objective x learning rule) on a gymnasium env and "
                    "write a run folder runs/<env>__<arch>-<objective>-<rule>__<seed>__<time>/.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Any config option can be set as section.key=value (read as YAML), e.g.\n"
               "  train.lr=1e-3 env.kwargs.noise_std=0.2 'arch.channels=[8,16,16,16]'\n"
               "  'objective.kwargs={reward: {ent_coef: 0.0}}'\n"
               "Precedence: defaults < agents/configs/<Env>.yaml < --config < flags and key=value.\n\n"
               "All options (section.key = default):\n" + help_table())
    p.add_argument("--env", help="env id, e.g. BrainSet/OrientationDiscrimination-v0 (env.id)")
    p.add_argument("--arch",
                   help="auto | hierarchical | mlp, optionally +rnn/+rnn_relu/+gru/+lstm (arch.name)")
    p.add_argument("--objective", help="objective or weighted sum, e.g. reward or 'reward+0.1*predictive'")
    p.add_argument("--rule", help="learning rule, e.g. backprop (rule.name)")
    p.add_argument("--seed", type=int, help="seeds python, numpy, torch and the envs; >= 0 (run.seed)")
    p.add_argument("--config", help="a YAML config file (e.g. a run folder's config.yaml)")
    p.add_argument("--resume", nargs="?", const="auto", default=None, metavar="RUN",
                   help="continue from the last checkpoint of RUN (a run folder); without RUN, the newest "
                        "run folder of the same env, components and seed")
    p.add_argument("--device", help="auto (CUDA when available) | cpu | cuda | cuda:N | mps (run.device)")
    p.add_argument("--num-threads", type=int, help="torch CPU threads; 0 = 1 thread (run.num_threads)")
    p.add_argument("--total-steps", type=int, help="env steps to train for; >= 1 (train.total_steps)")
    p.add_argument("--num-envs", type=int, help="envs stepped in one batch; >= 1 (env.num_envs)")
    p.add_argument("--runs-dir", help="parent folder of run folders (run.runs_dir)")
    p.add_argument("--no-video", action="store_true", help="skip the video at the end (run.video=false)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar (run.progress=false)")
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides")
    return p


# train.py flags that set one config field each (the rest are section.key=value overrides)
FLAG_FIELDS: dict[str, str] = {
    "env": "env.id", "arch": "arch.name", "objective": "objective.spec", "rule": "rule.name", "seed": "run.seed",
    "device": "run.device", "num_threads": "run.num_threads", "total_steps": "train.total_steps",
    "num_envs": "env.num_envs", "runs_dir": "run.runs_dir",
}


def _flag_overrides(a: argparse.Namespace) -> list[dict]:
    out = []
    for dest, name in FLAG_FIELDS.items():
        value = getattr(a, dest)
        if value is not None:
            sec, key = name.split(".")
            out.append({sec: {key: value}})
    if a.no_video:
        out.append({"run": {"video": False}})
    if a.no_progress:
        out.append({"run": {"progress": False}})
    return out


def _message(e: BaseException, args: argparse.Namespace | None = None) -> str:
    """One line for a config error; a field set by a flag is named by the flag too (argparse style)."""
    text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    name = getattr(e, "field", None)
    if args is not None and name is not None:
        for dest, fname in FLAG_FIELDS.items():
            if fname == name and getattr(args, dest, None) is not None:
                return f"argument --{dest.replace('_', '-')}: {text}"
    return text


def resolve_run(args: argparse.Namespace) -> tuple[Config, Path | None]:
    """(config, run folder to resume or None) for parsed ``train.py`` arguments. Bad values raise
    ValueError / TypeError / KeyError naming the option (``train_main`` turns them into usage errors)."""
    overrides = _flag_overrides(args) + [parse_override(o) for o in args.overrides]
    if args.config is not None and not Path(args.config).is_file():
        raise ValueError(f"argument --config: {args.config} is not a file")
    try:
        cfg = resolve_config(args.env, args.config, overrides)
    except yaml.YAMLError as e:
        raise ValueError(f"argument --config: {args.config} is not valid YAML ({str(e).splitlines()[0]})") from None
    if args.resume is None:
        return cfg, None

    if args.resume == "auto":
        run = latest_run_dir(cfg)
        if run is None:
            raise ValueError(f"argument --resume: no run folder with a checkpoint matches {cfg.env.id}, "
                             f"seed {cfg.run.seed} under {cfg.run.runs_dir}/; pass --resume RUN_FOLDER")
    else:
        run = Path(args.resume)
        if run.suffix == ".pt":
            run = run.parent.parent
        if not (run / "checkpoints" / "last.pt").exists():
            raise ValueError(f"argument --resume: {run / 'checkpoints' / 'last.pt'} does not exist")
    base = Config.load(run / "config.yaml")
    return resolve_config(base=base, overrides=overrides), run


def train_main(argv: list[str] | None = None) -> int:
    parser = train_parser()
    args = parser.parse_args(argv)
    try:  # everything that can be checked before a run folder exists
        cfg, resume = resolve_run(args)

        preflight(cfg)
    except (ValueError, TypeError, KeyError) as e:
        parser.error(_message(e, args))

    command = command_line("train.py", argv)
    try:
        res = train(cfg, resume=resume, command=command)
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command with --resume to continue from the last checkpoint",
              file=sys.stderr)
        return 130
    except NonFiniteError as e:
        print(f"\nstopped: {e}", file=sys.stderr)
        return 1
    print(f"done: {res.global_step} steps in {res.elapsed:.1f} s ({res.steps_per_second:,.0f} steps/s), "
          f"last eval return {res.last_eval:.4g}, best {res.best_eval:.4g}, stopped by {res.stopped}")
    if res.run_dir is not None:
        print(f"run folder: {res.run_dir}")
    return 0


def render_parser() -> argparse.ArgumentParser:

    p = argparse.ArgumentParser(description="Record a trained agent's episodes as a video.")
    p.add_argument("--checkpoint", required=True, help="a run folder or a .pt checkpoint")
    p.add_argument("--which", default="best", choices=["best", "last"],
                   help="which checkpoint of a run folder")
    p.add_argument("--episodes", type=_positive_int, default=8, help="episodes to record (>= 1)")
    p.add_argument("--max-frames", type=_positive_int, default=1000, help="frame cap (>= 1)")
    p.add_argument("--seed", type=int, default=12345, help="seed of the recorded episodes")
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of the greedy ones")
    p.add_argument("--out", type=output_path_type,
                   help="output file (.mp4 or .gif); default: <run>/render_<which>.mp4")
    p.add_argument("--device", default="cpu", help="device to run the agent on: cpu, cuda, cuda:N, mps, auto")
    return p


def render_main(argv: list[str] | None = None) -> int:
    parser = render_parser()
    args = parser.parse_args(argv)

    if device_problem(args.device):
        parser.error(f"argument --device: {args.device!r} is not a device; allowed: auto, cpu, cuda, cuda:N, mps")
    try:
        device = resolve_device(args.device)
    except ValueError as e:
        parser.error(f"argument --device: {e}")
    try:
        ck = checkpoint_path(args.checkpoint, args.which)
    except FileNotFoundError as e:
        parser.error(f"argument --checkpoint: {e}")
    try:
        agent = load_agent(ck, device=device)
    except (ValueError, TypeError, KeyError, OSError, RuntimeError) as e:
        parser.error(f"argument --checkpoint: {ck} cannot be loaded ({_message(e).splitlines()[0]})")
    out = Path(args.out) if args.out else ck.parent.parent / f"render_{ck.stem}.mp4"
    path = record_video(agent, agent.config.env.id, agent.config.env.kwargs, out, args.episodes, args.seed,
                        args.max_frames, deterministic=not args.stochastic)
    print(f"wrote {path} (checkpoint {ck}, step {agent.checkpoint_step})")
    return 0
