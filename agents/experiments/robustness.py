"""Robustness audit of the learning checks: every learned figure the suite asserts, over seeds and over the
floating-point code paths another CPU would take.

A reinforcement-learning run turns the last bit of a matrix product into a different trajectory, so
another CPU is, in effect, another seed. This audit runs each check of :data:`agents.experiments.checks.CHECKS`
for ``--seeds`` seeds under each code path of :data:`CODE_PATHS` (each in its own process, because the
environment variables that pick kernels are read once at load time) and writes the table the thresholds
are set from: per check, min / median / max of the per-seed figure, the worst value of the figure the test
asserts (its mean over the test's seeds) on any path, and the threshold.

    python -m agents.experiments.robustness --seeds 8 --jobs 2          # all checks, all paths
    python -m agents.experiments.robustness --checks curiosity_coverage --paths auto,compatible

Results go to ``<out>/results.jsonl`` one line per (check, path, seed) as they finish, so an interrupted
audit resumes where it stopped; ``table.md`` and ``table.json`` are rewritten atomically after each result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.experiments.checks import CHECKS
from brainset_envs.benchmark import cpu_name, machine_info
from brainset_envs.core.files import atomic_path, write_json

# Each path is what a process sees on a different machine. Measured on an AMD EPYC with AVX-512: 'auto' and
# MKL_CBWR=AVX512 give bit-identical kernels there, 'avx2' changes MKL's matmul and vector math, OpenBLAS's
# numpy matmul and oneDNN's convolutions (what an AVX2-only CPU runs), 'compatible' is MKL's
# CPU-independent path, and 'threads2' splits larger ops over two threads.
CODE_PATHS: dict[str, dict[str, str]] = {
    "auto": {},
    "compatible": {"MKL_CBWR": "COMPATIBLE"},
    "avx2": {"MKL_CBWR": "AVX2", "OPENBLAS_CORETYPE": "Haswell", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"},
    "avx512": {"MKL_CBWR": "AVX512"},
    "threads2": {},
}
THREADS = {"threads2": 2}
# 'avx512' is left out by default: on an AVX-512 CPU it is 'auto' bit for bit (see the module docstring).
DEFAULT_PATHS = ("auto", "compatible", "avx2", "threads2")


def _key(check: str, path: str, seed: int) -> str:
    return f"{check}|{path}|{seed}"


def run_one(check: str, path: str, seed: int, timeout: float = 3600.0) -> dict[str, Any]:
    """Measure ``check`` at ``seed`` in a fresh process under code path ``path``; returns its figures."""
    env = {**os.environ, **CODE_PATHS[path], "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    cmd = [sys.executable, "-m", "agents.experiments.robustness", "--worker", check, str(seed),
           str(THREADS.get(path, 1))]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{check} seed {seed} on path {path!r} failed:\n{p.stderr[-3000:]}")
    figures = json.loads(p.stdout.strip().splitlines()[-1])
    return {"check": check, "path": path, "seed": seed, **figures, "seconds": time.perf_counter() - t0}


def run_tests(checks: Sequence[str], path: str, seed: int, timeout: float = 3600.0) -> list[dict[str, Any]]:
    """Measure checks made by :func:`~agents.experiments.checks.by_test` at ``seed`` under code path
    ``path``: their tests in one fresh pytest process, each handing its figures to the ``audit`` fixture.
    A test whose assertion fails still counts (its figures were recorded first); one that records nothing
    is an error. Needs a checkout (the tests are not installed)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "tests" / "conftest.py").exists():
        raise RuntimeError(f"checks {list(checks)} are measured by their tests, which need a checkout; "
                           f"no tests/ at {root}")
    nodeids = sorted({CHECKS[c].test for c in checks})
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "figures.jsonl"
        env = {**os.environ, **CODE_PATHS[path], "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
               "PYGAME_HIDE_SUPPORT_PROMPT": "1", "BRAINSET_AUDIT_SEED": str(seed),
               "BRAINSET_AUDIT_THREADS": str(THREADS.get(path, 1)), "BRAINSET_AUDIT_OUT": str(record)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *nodeids]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=timeout)
        seconds = (time.perf_counter() - t0) / len(nodeids)
        got = {}
        if record.exists():
            for line in record.read_text().splitlines():
                r = json.loads(line)
                got[r.pop("check")] = r
    missing = [c for c in checks if c not in got]
    if p.returncode not in (0, 1) or missing:
        raise RuntimeError(f"tests of {missing or list(checks)} on path {path!r}, seed {seed} recorded no figures "
                           f"(pytest exit {p.returncode}):\n{(p.stdout + p.stderr)[-3000:]}")
    return [{"check": c, "path": path, "seed": seed, **{k: float(v) for k, v in got[c].items()}, "seconds": seconds}
            for c in checks]


def load_results(path: Path) -> dict[str, dict]:
    """The finished measurements of an earlier (possibly interrupted) audit; a torn last line is ignored."""
    done: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[_key(r["check"], r["path"], r["seed"])] = r
    return done


def summarize(results: Sequence[dict]) -> list[dict[str, Any]]:
    """Per asserted figure: its per-seed distribution over all paths, the tested value (mean over the test's
    seeds) on each path, the worst of those, the threshold and the margin (positive: the test passes)."""

    rows = []
    for name, check in CHECKS.items():
        rs = [r for r in results if r["check"] == name]
        for figure, limit in check.limits.items():
            fr = [r for r in rs if figure in r]
            if not fr:
                continue
            values = np.array([r[figure] for r in fr])
            tested = {}
            for path in sorted({r["path"] for r in fr}):
                by_seed = {r["seed"]: r[figure] for r in fr if r["path"] == path}
                if all(s in by_seed for s in check.test_seeds):
                    tested[path] = float(np.mean([by_seed[s] for s in check.test_seeds]))
            worst = (min if limit.higher else max)(tested.values()) if tested else float("nan")
            margin = (worst - limit.threshold) * (1 if limit.higher else -1)
            rows.append({
                "check": name, "figure": figure, "test": check.test,
                "seeds": len({r["seed"] for r in fr}), "paths": sorted({r["path"] for r in fr}), "n": len(fr),
                "min": float(values.min()), "median": float(np.median(values)), "max": float(values.max()),
                "mean": float(values.mean()), "std": float(values.std()),
                "test_seeds": list(check.test_seeds), "tested_per_path": tested, "worst_tested": worst,
                "op": limit.op, "threshold": limit.threshold, "margin": float(margin),
                "tested_ok": bool(limit.holds(worst)) if tested else False,
                "seconds": float(sum(r["seconds"] for r in fr)),
            })
    return rows



def machine() -> dict[str, Any]:
    """Where the audit ran: CPU, library versions, the kernels each path gives are CPU-specific."""

    return {**machine_info(), "cpu": cpu_name(), "torch": torch.__version__,
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}


def table_markdown(rows: Sequence[dict], header: dict[str, Any] | None = None) -> str:
    """The audit as a Markdown table (with the machine it ran on, when given)."""
    out = []
    if header:
        out += [f"Measured on {header['cpu']} ({header['cpus']} CPUs), torch {header['torch']} "
                f"({header['torch_cpu_capability']}), numpy {header['numpy']}, {header['time']}. Code paths: "
                + "; ".join(f"`{k}` = {' '.join(f'{a}={b}' for a, b in v.items()) or 'defaults'}"
                            + (f", {THREADS[k]} torch threads" if k in THREADS else "")
                            for k, v in CODE_PATHS.items()) + ". A figure's tested value is its mean over "
                "the test's seeds; the margin is how far the worst path's tested value clears the threshold.", ""]
    out += ["| check | figure | seeds x paths | min | median | max | test's seeds | tested, worst path | threshold "
           "| margin |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        seeds = ",".join(map(str, r["test_seeds"]))
        out.append(f"| {r['check']} | {r['figure']} | {r['seeds']} x {len(r['paths'])} | {r['min']:.3f} "
                   f"| {r['median']:.3f} | {r['max']:.3f} | {seeds} | {r['worst_tested']:.3f} "
                   f"| {r['op']} {r['threshold']:g} | {r['margin']:+.3f} |")
    return "\n".join(out) + "\n"


def audit(checks: Sequence[str], seeds: Sequence[int], paths: Sequence[str], out: str | Path, jobs: int = 2,
          progress: bool = True) -> list[dict[str, Any]]:
    """Run the missing (check, path, seed) measurements, ``jobs`` processes at a time; returns the table."""
    # deferred: optional heavy dependency, imported only when used
    from tqdm.auto import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "results.jsonl"
    done = load_results(log)
    if log.exists() and not log.read_bytes().endswith(b"\n") and log.stat().st_size:
        text = log.read_bytes()  # a line torn by a kill: drop it, or the next record would be glued to it
        with open(log, "r+b") as f:
            f.truncate(text.rfind(b"\n") + 1)
    todo = [(c, p, s) for c in checks for p in paths for s in seeds if _key(c, p, s) not in done]

    where = machine()

    def write_tables() -> list[dict]:
        rows = summarize(list(done.values()))
        write_json({"machine": where, "code_paths": CODE_PATHS, "threads": THREADS, "rows": rows},
                   out / "table.json")
        with atomic_path(out / "table.md") as tmp:
            Path(tmp).write_text(table_markdown(rows, where))
        return rows

    # checks measured by their tests: one pytest process per (path, seed) runs all of them
    by_tests: dict[tuple[str, int], list[str]] = {}
    for c, p, s in todo:
        if CHECKS[c].measure is None:
            by_tests.setdefault((p, s), []).append(c)
    failed: list[tuple] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, \
            tqdm(total=len(todo), disable=not progress, desc="robustness") as bar, open(log, "a") as f:
        futures = {pool.submit(run_one, *t): t for t in todo if CHECKS[t[0]].measure is not None}
        futures |= {pool.submit(run_tests, cs, p, s): (tuple(cs), p, s) for (p, s), cs in by_tests.items()}
        for fut in as_completed(futures):
            what = futures[fut]
            try:
                measured = fut.result()
            except Exception as e:  # one failed measurement is reported, the others go on
                failed.append(what)
                bar.update(len(what[0]) if isinstance(what[0], tuple) else 1)
                tqdm.write(f"{what}: {e}")
                continue
            for r in measured if isinstance(measured, list) else [measured]:
                f.write(json.dumps(r) + "\n")
                done[_key(r["check"], r["path"], r["seed"])] = r
                bar.update()
                bar.set_postfix_str(f"{r['check']} {r['path']} s{r['seed']}")
            f.flush()
            os.fsync(f.fileno())
            write_tables()
    if failed:
        raise RuntimeError(f"{len(failed)} measurement(s) failed (see above): {failed}")
    return write_tables()


def _worker(check: str, seed: int, threads: int) -> None:

    figures = CHECKS[check].measure(seed, threads)
    print(json.dumps({k: float(v) for k, v in figures.items()}))


def _csv(kind: str, allowed: Sequence[str]):
    def parse(text: str) -> list[str]:
        items = [t for t in text.split(",") if t]
        bad = [t for t in items if t not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"unknown {kind} {bad or text!r}; allowed: {', '.join(allowed)}")
        return items
    return parse


def main(argv: Sequence[str] | None = None) -> int:

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        _worker(argv[1], int(argv[2]), int(argv[3]))
        return 0
    ap = argparse.ArgumentParser(prog="python -m agents.experiments.robustness", description=__doc__.split("\n\n")[0])
    ap.add_argument("--checks", type=_csv("check", list(CHECKS)), default=list(CHECKS),
                    help=f"comma-separated (default: all): {', '.join(CHECKS)}")
    ap.add_argument("--paths", type=_csv("code path", list(CODE_PATHS)), default=list(DEFAULT_PATHS),
                    help=f"comma-separated code paths (default: {','.join(DEFAULT_PATHS)}): {', '.join(CODE_PATHS)}")
    ap.add_argument("--seeds", type=int, default=8, help="seeds 0..N-1 (default 8)")
    ap.add_argument("--jobs", type=int, default=2, help="processes at a time (default 2)")
    ap.add_argument("--out", default="runs/robustness", help="folder for results.jsonl and the table")
    a = ap.parse_args(argv)
    if a.seeds < 1:
        ap.error(f"--seeds must be >= 1, got {a.seeds}")
    if a.jobs < 1:
        ap.error(f"--jobs must be >= 1, got {a.jobs}")
    rows = audit(a.checks, range(a.seeds), a.paths, a.out, a.jobs)
    print(table_markdown([r for r in rows if r["check"] in a.checks]))
    return 0 if all(r["tested_ok"] for r in rows if r["check"] in a.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
