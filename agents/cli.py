"""Command-line front ends (``scripts/train.py``, ``scripts/render.py``): argument parsing only; the work
happens in :mod:`agents.trainer` and :mod:`agents.runs`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from agents.config import Config, help_table, parse_override, resolve_config


def train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py",
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
    p.add_argument("--seed", type=int, help="seeds python, numpy, torch and the envs (run.seed)")
    p.add_argument("--config", help="a YAML config file (e.g. a run folder's config.yaml)")
    p.add_argument("--resume", nargs="?", const="auto", default=None, metavar="RUN",
                   help="continue from the last checkpoint of RUN (a run folder); without RUN, the newest "
                        "run folder of the same env, components and seed")
    p.add_argument("--device", help="auto (CUDA when available) | cpu | cuda (run.device)")
    p.add_argument("--num-threads", type=int, help="torch CPU threads; 0 = 1 thread (run.num_threads)")
    p.add_argument("--total-steps", type=int, help="env steps to train for (train.total_steps)")
    p.add_argument("--num-envs", type=int, help="envs stepped in one batch (env.num_envs)")
    p.add_argument("--runs-dir", help="parent folder of run folders (run.runs_dir)")
    p.add_argument("--no-video", action="store_true", help="skip the video at the end (run.video=false)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar (run.progress=false)")
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides")
    return p


def _flag_overrides(a: argparse.Namespace) -> list[dict]:
    pairs = [("env", "id", a.env), ("arch", "name", a.arch), ("objective", "spec", a.objective),
             ("rule", "name", a.rule), ("run", "seed", a.seed), ("run", "device", a.device),
             ("run", "num_threads", a.num_threads), ("train", "total_steps", a.total_steps),
             ("env", "num_envs", a.num_envs), ("run", "runs_dir", a.runs_dir)]
    out = [{s: {k: v}} for s, k, v in pairs if v is not None]
    if a.no_video:
        out.append({"run": {"video": False}})
    if a.no_progress:
        out.append({"run": {"progress": False}})
    return out


def resolve_run(args: argparse.Namespace) -> tuple[Config, Path | None]:
    """(config, run folder to resume or None) for parsed ``train.py`` arguments."""
    overrides = _flag_overrides(args) + [parse_override(o) for o in args.overrides]
    cfg = resolve_config(args.env, args.config, overrides)
    if args.resume is None:
        return cfg, None
    from agents.runs import latest_run_dir

    if args.resume == "auto":
        run = latest_run_dir(cfg)
        if run is None:
            raise SystemExit(f"--resume: no run folder with a checkpoint matches {cfg.env.id}, "
                             f"seed {cfg.run.seed} under {cfg.run.runs_dir}/; pass --resume RUN_FOLDER")
    else:
        run = Path(args.resume)
        if run.suffix == ".pt":
            run = run.parent.parent
        if not (run / "checkpoints" / "last.pt").exists():
            raise SystemExit(f"--resume {args.resume}: {run / 'checkpoints' / 'last.pt'} does not exist")
    base = Config.load(run / "config.yaml")
    return resolve_config(base=base, overrides=overrides), run


def train_main(argv: list[str] | None = None) -> int:
    args = train_parser().parse_args(argv)
    cfg, resume = resolve_run(args)
    from agents.trainer import NonFiniteError, train

    command = shlex.join([sys.executable, *(sys.argv if argv is None else ["scripts/train.py", *argv])])
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
    p = argparse.ArgumentParser(prog="render.py", description="Record a trained agent's episodes as a video.")
    p.add_argument("--checkpoint", required=True, help="a run folder or a .pt checkpoint")
    p.add_argument("--which", default="best", choices=["best", "last"],
                   help="which checkpoint of a run folder")
    p.add_argument("--episodes", type=int, default=8, help="episodes to record")
    p.add_argument("--max-frames", type=int, default=1000, help="frame cap")
    p.add_argument("--seed", type=int, default=12345, help="seed of the recorded episodes")
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of the greedy ones")
    p.add_argument("--out", help="output file (.mp4 or .gif); default: <run>/render_<which>.mp4")
    p.add_argument("--device", default="cpu", help="device to run the agent on")
    return p


def render_main(argv: list[str] | None = None) -> int:
    args = render_parser().parse_args(argv)
    from agents.runs import checkpoint_path, load_agent, record_video

    ck = checkpoint_path(args.checkpoint, args.which)
    agent = load_agent(ck, device=args.device)
    out = Path(args.out) if args.out else ck.parent.parent / f"render_{ck.stem}.mp4"
    path = record_video(agent, agent.config.env.id, agent.config.env.kwargs, out, args.episodes, args.seed,
                        args.max_frames, deterministic=not args.stochastic)
    print(f"wrote {path} (checkpoint {ck}, step {agent.checkpoint_step})")
    return 0
