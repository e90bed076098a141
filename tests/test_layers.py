"""The house's layers, read from the source (Python does not enforce them): each module imports only
modules of its own layer or below, no import cycle exists, and a function-level import only defers a
heavy optional dependency (with a ``# deferred:`` comment), never hides a cycle.

brainset_envs: core <- tasks <- ground truth / analysis, wrappers <- tools. agents: config <- components
(architectures, rollout, rules <- objectives) <- trainer, run folders, build <- probes <- experiments <-
CLI. The library never imports ``agents.experiments``; ``brainset_envs`` never imports ``agents``.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests import ROOT

PACKAGES = ("brainset_envs", "agents")

# (module or package, layer): a module takes the layer of its longest listed prefix; a module of
# `agents` or `brainset_envs` with no listed prefix fails the test, so every new module is placed.
LAYERS: dict[str, int] = {
    "brainset_envs": 0, "brainset_envs.core": 0,
    "brainset_envs.tasks": 1,
    "brainset_envs.analysis": 2, "brainset_envs.wrappers": 2,
    "brainset_envs.recording": 3, "brainset_envs.play": 3, "brainset_envs.benchmark": 3, "brainset_envs.demo": 3,
    "brainset_envs.cli": 3,
    "agents.registry": 10, "agents.config": 10, "agents.config_fields": 10,
    "agents.architectures": 11, "agents.rollout": 11, "agents.rules": 11,
    "agents.objectives": 12,
    "agents": 13, "agents.trainer": 13, "agents.runs": 13, "agents.sb3": 13, "agents.hooks": 13,
    "agents.build": 13, "agents.run_folder": 13, "agents.run_log": 13, "agents.policy": 13,
    "agents.probes": 14, "agents.classic": 14,
    "agents.experiments": 15,
    "agents.cli": 16,
}

# Imports that break the rules today, each a known debt of issue 16 (the test also fails when one is
# gone, so the list only shrinks): (importer, imported).
KNOWN: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def layer(module: str) -> int:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in LAYERS:
            return LAYERS[".".join(parts[:i])]
    raise AssertionError(f"{module} has no layer: add it (or its package) to LAYERS in tests/test_layers.py")


@cache
def imports() -> list[tuple[str, str, bool, bool]]:
    """(importer, imported module, at function level, has a '# deferred:' comment) for every import of
    our own modules or of anything at function level."""
    out = []
    for mod, path in MODULES.items():
        src = path.read_text()
        lines = src.splitlines()
        tree = ast.parse(src)
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                           for a in node.names]
            else:
                continue
            near = " ".join(lines[max(0, node.lineno - 2):node.end_lineno])
            for t in targets:
                out.append((mod, t, id(node) in nested, "# deferred:" in near))
    return out


def _own(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def test_every_module_has_a_layer():
    for mod in MODULES:
        layer(mod)


def test_imports_point_down_or_sideways():
    bad = sorted({(a, _own(b)) for a, b, _, _ in imports() if _own(b) and layer(_own(b)) > layer(a)} - KNOWN)
    assert not bad, "imports from a higher layer:\n" + "\n".join(f"{a} ({layer(a)}) -> {b} ({layer(b)})"
                                                               for a, b in bad)


def test_function_level_imports_only_defer_heavy_dependencies():
    bad = sorted({(a, b) for a, b, nested, deferred in imports() if nested and not deferred} - KNOWN)
    assert not bad, ("function-level imports without a '# deferred: <why>' comment (move them to the top of "
                     "the module):\n" + "\n".join(f"{a}: {b}" for a, b in bad))


def test_no_import_cycles():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for a, b, _, _ in imports():
        own = _own(b)
        if own and own != a and (a, own) not in KNOWN and not a.startswith(own + "."):
            graph[a].add(own)  # a package's own __init__ is imported first by Python anyway
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_known_debts_are_still_real():
    found = {(a, _own(b)) for a, b, _, _ in imports()} | {(a, b) for a, b, _, _ in imports()}
    gone = sorted(KNOWN - found)
    assert not gone, f"{gone} no longer occur: remove them from KNOWN in tests/test_layers.py"
