"""The ``brainset`` command: ``brainset <command> [options]`` runs the same ``main(argv)`` as
``python scripts/<script>.py [options]``, so an installed user needs no checkout.

    brainset --help                                     # the commands, one line each
    brainset train --env BrainSet/PatchForaging-v0 --seed 0
    brainset fig4 --quick
    brainset play BrainSet/ForagingArena-v0             # envs only: no torch needed

This module lives in ``brainset_envs`` (a tool, the top of its layers) on purpose: importing anything
under ``agents`` runs ``agents/__init__.py``, which imports torch, so a dispatcher inside ``agents`` could
not even list the commands on an envs-only install (``pip install brainset``). It imports only the
standard library; each command's module is named by a ``"module:function"`` string, like gymnasium's entry
points, and imported when that command runs, so ``brainset_envs`` never imports ``agents`` itself.
A command that needs the agents extra says so in
one line (exit status 2) when it is missing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NamedTuple


class Command(NamedTuple):
    target: str  # "module:function", called with the rest of the command line
    script: str  # the front end in scripts/ that runs the same function
    help: str  # one line for `brainset --help`


COMMANDS: dict[str, Command] = {
    "train": Command("agents.cli:train_main", "train.py", "train an agent (architecture x objective x rule)"),
    "render": Command("brainset_envs.cli:render_main", "render.py",
                      "record an env (random/oracle policy) or a trained agent (--checkpoint) to MP4/GIF"),
    "play": Command("brainset_envs.play:main", "play.py", "play a task with the keyboard (needs a display)"),
    "bench": Command("agents.experiments.bench_cli:main", "benchmark.py",
                     "env throughput, learning checks, trainer vs SB3 -> runs/benchmark.json"),
    "bench-trainer": Command("agents.experiments.bench_trainer_cli:main", "bench_trainer.py",
                             "our trainer vs SB3 PPO: steps/s and time to target, as JSON"),
    "bench-rng": Command("agents.experiments.bench_rng_streams:main", "bench_rng_streams.py",
                         "cost of per-env RNG streams in the native vector envs"),
    "fig2": Command("agents.experiments.fig2_cli:main", "fig2.py",
                    "Fig. 2: bias and variance of each learning rule's updates, per layer"),
    "fig3": Command("agents.experiments.fig3:main", "fig3.py",
                    "Fig. 3: is each rule's mean update a gradient? (fields on y = w2 w1 x, and numbers)"),
    "fig4": Command("agents.experiments.fig4_cli:main", "fig4.py",
                    "Fig. 4: perceptual learning of orientation in a conv hierarchy"),
    "factorial": Command("agents.experiments.factorial:main", "factorial.py",
                         "the component factorial: tasks x architectures x objectives x rules x seeds on Ray"),
    "fig5": Command("agents.experiments.fig5:main", "fig5.py",
                    "Fig. 5: each rule's credit signal in S+- and S--tuned units over Go/NoGo learning"),
    "metarl": Command("agents.experiments.metarl:main", "metarl.py",
                      "learning to learn: a frozen LSTM meta-RL agent on Bandit, TwoStep, Harlow vs ground truth"),
    "bci": Command("agents.experiments.bci:main", "bci.py",
                   "BCI learning: within- vs outside-manifold perturbations of the agent's own units, per rule"),
    "intrinsic": Command("agents.experiments.intrinsic_cli:main", "intrinsic_figures.py",
                         "the intrinsic-motivation figures (learned empowerment, coverage)"),
    "empowerment-map": Command("agents.experiments.empowerment_map:main", "empowerment_map.py",
                               "the exact n-step empowerment map of a grid layout, as a PNG"),
    "explore": Command("agents.experiments.explore:main", "explore.py",
                       "tabular curiosity in a grid world: coverage JSON and plot"),
    "watermaze": Command("agents.experiments.watermaze_fmd:main", "watermaze_fmd.py",
                         "the place-cell actor-critic (Foster, Morris & Dayan 2000) with a reversal"),
    "robustness": Command("agents.experiments.robustness:main", "robustness.py",
                          "audit the learned-figure checks over seeds and CPU code paths (long)"),
    "sweep": Command("agents.experiments.sweep_cli:main", "sweep.py",
                     "a grid of training runs on Ray Tune -> runs/sweeps/<name>/results.csv, report.md"),
    "docs": Command("agents.experiments.docs_site:main", "docs.py",
                    "the documentation site, generated from the code -> runs/docs/site (needs the docs extra)"),
    "demo": Command("agents.experiments.demo:main", "demo.py",
                    "the `make demo` job: train a small agent for ~2 min, render it"),
}

# Top-level modules of the agents extra: a command that fails to import one asks for the extra.
AGENTS_EXTRA = frozenset({"torch", "stable_baselines3", "tensorboard", "matplotlib", "tqdm", "yaml", "sklearn"})


def render_main(argv: Sequence[str] | None = None) -> int:
    """``render``: an env (brainset_envs.recording, envs only) or, with ``--checkpoint``, a trained agent
    (agents.cli.render_main, needs the agents extra)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--checkpoint" or a.startswith("--checkpoint=") for a in args):
        # agents imports torch and sits above brainset_envs: named by a string, imported when used
        return int(importlib.import_module("agents.cli").render_main(args))
    # deferred: the env recorder, imported only when used (keeps `brainset --help` instant)
    from brainset_envs.recording import main as record_main

    return record_main(args)


def _parser() -> argparse.ArgumentParser:
    width = max(len(n) for n in COMMANDS)
    table = "\n".join(f"  {name:{width}s}  {c.help}" for name, c in COMMANDS.items())
    return argparse.ArgumentParser(
        prog="brainset", usage="brainset <command> [options]",
        description="BrainSet tasks and agents from the command line; each command equals "
                    "`python scripts/<script>.py` of a checkout.",
        epilog=f"commands:\n{table}\n\n`brainset <command> --help` lists a command's options. All commands but play\n"
               "and render (of an env) need the agents extra: pip install \"brainset[agents]\"",
        formatter_class=argparse.RawDescriptionHelpFormatter)


def run(name: str, argv: Sequence[str]) -> int:
    """Run command ``name`` with ``argv`` (what follows the command name); returns its exit status."""
    module, _, function = COMMANDS[name].target.partition(":")
    saved = sys.argv
    sys.argv = [f"brainset {name}", *argv]  # argparse's prog in usage and errors; what a run records
    try:
        code = getattr(importlib.import_module(module), function)(list(argv))
    except ModuleNotFoundError as e:
        missing = (e.name or "").partition(".")[0]
        if missing not in AGENTS_EXTRA:
            raise
        print(f"brainset {name}: error: this command needs {missing}, from the agents extra: "
              f"pip install \"brainset[agents]\"", file=sys.stderr)
        return 2
    finally:
        sys.argv = saved
    return code if isinstance(code, int) else 0  # some mains return None, or a path (watermaze)


def main(argv: Sequence[str] | None = None) -> int:
    """The console entry point (``[project.scripts] brainset``). Exit status 2 with the list of commands
    for no command or an unknown one, as argparse does for a bad choice."""
    args = list(sys.argv[1:] if argv is None else argv)
    p = _parser()
    if args[:1] in (["-h"], ["--help"]):
        p.print_help()
        return 0
    if not args or args[0] not in COMMANDS:
        p.print_help(sys.stderr)
        what = "a command is required" if not args else f"argument command: invalid choice: {args[0]!r}"
        p.exit(2, f"brainset: error: {what} (choose from {', '.join(COMMANDS)})\n")
    return run(args[0], args[1:])


if __name__ == "__main__":
    sys.exit(main())
