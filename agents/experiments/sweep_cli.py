"""``brainset sweep`` / ``scripts/sweep.py``: a grid of training runs on Ray Tune.

    brainset sweep --env BrainSet/OrientationDiscriminationEasy-v0 --rule backprop,feedback_alignment \\
        --seeds 3 --set train.lr=1e-3,5e-4 train.total_steps=20000 --name fa_vs_bp
    brainset sweep --config my_sweep.yaml                 # the same keys in YAML (env, rule, seeds, set, ...)
    brainset sweep --resume runs/sweeps/fa_vs_bp          # finish the trials that did not finish

Grid options take comma-separated values (``--set section.key=v1,v2``; commas inside [...] or {...}
stay with the value); positional ``section.key=value`` overrides are fixed for every trial. Each trial is
``brainset train`` with its values and seed (the command is in its run folder's command.txt). Every option
is checked, and every trial's config resolved and preflighted, before Ray starts or a folder is made.
Ray starts locally, or joins the cluster at ``--address`` / ``RAY_ADDRESS``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path
from typing import Any

import yaml

from agents.config import Config, apply_dict, parse_override
from agents.config_fields import ConfigError, check_field
from agents.experiments.sweep import Sweep, nest, ray_missing, run_sweep
from agents.trainer import preflight

# grid options that name one config field each
AXES: dict[str, str] = {"env": "env.id", "rule": "rule.name", "objective": "objective.spec", "arch": "arch.name"}
FILE_KEYS = (*AXES, "seeds", "set", "overrides", "name", "base_config", "cpus_per_trial", "gpus_per_trial",
             "max_failures", "score")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", help="env ids, comma-separated (env.id)")
    p.add_argument("--rule", help="learning rules, comma-separated, e.g. backprop,feedback_alignment (rule.name)")
    p.add_argument("--objective", help="objectives, comma-separated, e.g. reward,reward+0.1*predictive")
    p.add_argument("--arch", help="architectures, comma-separated, e.g. mlp,mlp+gru (arch.name)")
    p.add_argument("--seeds", help="N (seeds 0..N-1) or a comma-separated list of seeds; default 1")
    p.add_argument("--set", action="append", default=None, metavar="SECTION.KEY=V1,V2",
                   help="a grid over any config field, e.g. --set train.lr=1e-3,5e-4 (repeatable)")
    p.add_argument("--config", help="a sweep YAML with the same keys: env, rule, objective, arch, seeds, set "
                                    "(mapping field -> values), overrides (list), name, base_config, ...")
    p.add_argument("--base-config", help="a trainer config YAML under every trial (like `brainset train --config`)")
    p.add_argument("--name", help="the sweep's name: its folder is SWEEPS_DIR/NAME (default: the start time)")
    p.add_argument("--sweeps-dir", default="runs/sweeps", help="parent folder of sweeps (default runs/sweeps)")
    p.add_argument("--resume", metavar="SWEEP_DIR", help="finish a sweep: rerun only its unfinished trials")
    p.add_argument("--cpus-per-trial", type=float, help="CPUs Ray reserves per trial = torch threads (default 1)")
    p.add_argument("--gpus-per-trial", type=float,
                   help="GPU fraction per trial (default 0.25 when CUDA is present, else 0)")
    p.add_argument("--max-failures", type=int, help="retries of a failing trial (Ray FailureConfig; default 1)")
    p.add_argument("--address", default=None,
                   help="a Ray cluster to run on (default: $RAY_ADDRESS, else a local Ray started here)")
    p.add_argument("--no-score", action="store_true",
                   help="skip scoring trained agents with the env's learning-check scorer (ground truth)")
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="fixed config overrides")
    return p


def split_values(text: str) -> list[str]:
    """``'a,b'`` -> ``['a', 'b']``; commas inside brackets, braces or quotes do not split."""
    out, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


def _as_list(value: Any, option: str) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [yaml.safe_load(v) if option == "--set" else v for v in split_values(value)]
    return [value]


def _check_value(option: str, name: str, value: Any) -> Any:
    """``value`` coerced for the field ``name`` and checked, or a ValueError naming ``option``."""
    try:
        cfg = Config()
        apply_dict(cfg, nest(name, value))
        if name.count(".") == 1:
            check_field(name, getattr(getattr(cfg, name.split(".")[0]), name.split(".")[1]))
            return getattr(getattr(cfg, name.split(".")[0]), name.split(".")[1])
        return value
    except KeyError as e:
        raise ValueError(f"argument {option}: {e.args[0] if e.args else e}") from None
    except (ConfigError, TypeError, ValueError) as e:
        raise ValueError(f"argument {option}: {e}") from None


def _seeds(value: Any) -> list[int]:
    try:
        if isinstance(value, list) or (isinstance(value, str) and "," in value):
            seeds = [int(v) for v in _as_list(value, "--seeds")]
            if not seeds or min(seeds) < 0 or len(set(seeds)) < len(seeds):
                raise ValueError
            return seeds
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"argument --seeds: {value!r} is not allowed; allowed: N >= 1 (seeds 0..N-1) or a "
                         f"comma-separated list of distinct seeds >= 0") from None
    if n < 1:
        raise ValueError(f"argument --seeds: {value!r} is not allowed; allowed: N >= 1 (seeds 0..N-1)")
    return list(range(n))


def build_sweep(a: argparse.Namespace) -> Sweep:
    """The :class:`Sweep` the options describe (``--config`` file < flags); ValueError names the option."""
    spec: dict[str, Any] = {}
    if a.config is not None:
        try:
            spec = yaml.safe_load(Path(a.config).read_text()) or {}
        except OSError:
            raise ValueError(f"argument --config: {a.config} is not a readable file") from None
        except yaml.YAMLError as e:
            raise ValueError(f"argument --config: {a.config} is not valid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(spec, dict) or set(spec) - set(FILE_KEYS):
            bad = sorted(set(spec) - set(FILE_KEYS)) if isinstance(spec, dict) else spec
            raise ValueError(f"argument --config: unknown key(s) {bad} in {a.config}; allowed: {', '.join(FILE_KEYS)}")
    for opt in AXES:
        if getattr(a, opt) is not None:
            spec[opt] = getattr(a, opt)
    if a.set is not None:
        spec["set"] = dict(s.split("=", 1) if "=" in s else (s, None) for s in a.set)
    for key in ("seeds", "name", "base_config", "cpus_per_trial", "gpus_per_trial", "max_failures"):
        if getattr(a, key) is not None:
            spec[key] = getattr(a, key)
    spec["overrides"] = [*(spec.get("overrides") or []), *a.overrides]
    fields: dict[str, list] = {}
    for opt, name in AXES.items():
        if spec.get(opt) is None:
            continue
        values = _as_list(spec[opt], f"--{opt}")
        if not values or any(v in ("", None) for v in values):
            raise ValueError(f"argument --{opt}: {spec[opt]!r} is an empty grid; give comma-separated values")
        fields[name] = [_check_value(f"--{opt}", name, v) for v in values]
    sets = spec.get("set") or {}
    if not isinstance(sets, dict):
        raise ValueError(f"argument --config: set must map section.key to values, got {sets!r}")
    for name, raw in sets.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
            raise ValueError(f"argument --set: {name}= is an empty grid; give section.key=v1,v2")
        if "." not in str(name):
            raise ValueError(f"argument --set: {name!r} must look like section.key=v1,v2, e.g. train.lr=1e-3,5e-4")
        if name in fields:
            raise ValueError(f"argument --set: {name} is already a grid axis")
        fields[name] = [_check_value(f"--set {name}", name, v) for v in _as_list(raw, "--set")]
    for o in spec["overrides"]:
        try:
            d = parse_override(o)
            apply_dict(Config(), d)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"argument overrides: {e.args[0] if isinstance(e, KeyError) and e.args else e}") from None
        if o.split("=", 1)[0].strip() in fields:
            raise ValueError(f"argument overrides: {o!r} fixes a field the grid varies")
    name = str(spec.get("name") or time.strftime("%Y%m%d-%H%M%S"))
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"argument --name: {name!r} is not allowed; allowed: a folder name (no '/')")
    base = spec.get("base_config")
    if base is not None and not Path(base).is_file():
        raise ValueError(f"argument --base-config: {base} is not a file")
    cpus = _number(spec.get("cpus_per_trial", 1.0), "--cpus-per-trial", low=0.0, strict=True)
    gpus = spec.get("gpus_per_trial")
    gpus = _number(gpus if gpus is not None else _default_gpus(), "--gpus-per-trial", low=0.0)
    fails = spec.get("max_failures", 1)
    if not isinstance(fails, int) or fails < 0:
        raise ValueError(f"argument --max-failures: {fails!r} is not allowed; allowed: an integer >= 0")
    return Sweep(name=name, fields=fields, seeds=_seeds(spec.get("seeds", 1)), overrides=list(spec["overrides"]),
                 base_config=str(Path(base).resolve()) if base else None, cpus_per_trial=cpus, gpus_per_trial=gpus,
                 max_failures=fails, score=bool(spec.get("score", True)) and not a.no_score)


def _number(v: Any, option: str, low: float, strict: bool = False) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = math.nan
    if not math.isfinite(x) or x < low or (strict and x == low):
        op = ">" if strict else ">="
        raise ValueError(f"argument {option}: {v!r} is not allowed; allowed: a number {op} {low:g}")
    return x


def _default_gpus() -> float:
    # deferred: torch is heavy; asked only when --gpus-per-trial is not given
    import torch

    return 0.25 if torch.cuda.is_available() else 0.0


def check_trials(sweep: Sweep, local: bool) -> None:
    """Resolve every trial's config and preflight each distinct one (env made, objective and rule built)."""
    if local and sweep.gpus_per_trial > 0:
        # deferred: torch is heavy; only to check a GPU request against this machine
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"argument --gpus-per-trial: {sweep.gpus_per_trial:g} but CUDA is not available here; "
                             f"use 0 (or --address for a cluster with GPUs)")
    if sweep.gpus_per_trial > 1 and not float(sweep.gpus_per_trial).is_integer():
        raise ValueError(f"argument --gpus-per-trial: {sweep.gpus_per_trial:g} is not allowed; allowed: a fraction "
                         f"<= 1 or a whole number of GPUs")
    seen = set()
    for t in sweep.trials():
        try:
            cfg = sweep.config(t)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"trial {t.values} seed {t.seed}: {e.args[0] if isinstance(e, KeyError) else e}") from None
        d = cfg.to_dict()
        d["run"].pop("seed")
        d["run"]["device"] = "cpu"  # the trial's device exists where it runs (Ray assigns the GPU)
        key = repr(d)
        if key in seen:
            continue
        seen.add(key)
        cfg = Config.from_dict(d)
        try:
            preflight(cfg)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"trial {t.values}: {e.args[0] if isinstance(e, KeyError) else e}") from None


def main(argv: list[str] | None = None) -> int:
    p = parser()
    a = p.parse_intermixed_args(argv)
    try:
        if a.resume is not None:
            given = [f"--{o}" for o in (*AXES, "seeds", "set", "config", "base_config", "name") if getattr(a, o)]
            if given or a.overrides:
                raise ValueError(f"argument --resume: the grid of a resumed sweep is its sweep.yaml; drop "
                                 f"{', '.join(given + a.overrides)}")
            sweep_dir = Path(a.resume)
            if not (sweep_dir / "sweep.yaml").is_file():
                raise ValueError(f"argument --resume: {sweep_dir / 'sweep.yaml'} does not exist")
            sweep = Sweep.load(sweep_dir / "sweep.yaml")
            for key in ("cpus_per_trial", "gpus_per_trial", "max_failures"):
                if getattr(a, key) is not None:
                    setattr(sweep, key, getattr(a, key))
            sweep.score = sweep.score and not a.no_score
        else:
            sweep = build_sweep(a)
            sweep_dir = Path(a.sweeps_dir) / sweep.name
            if (sweep_dir / "sweep.yaml").exists():
                raise ValueError(f"argument --name: {sweep_dir} holds a sweep already; finish it with --resume "
                                 f"{sweep_dir}, or choose another --name")
        check_trials(sweep, local=a.address is None and not os.environ.get("RAY_ADDRESS"))
    except ValueError as e:
        p.error(str(e))
    if ray_missing(p.prog, "sweeps"):
        return 2
    summary = run_sweep(sweep, sweep_dir, address=a.address)
    return 0 if summary["error"] == 0 and summary["not run"] == 0 else 1
