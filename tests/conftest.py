"""Shared test setup: headless pygame and SDL, one thread for torch, the --learning-checks selection."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

import brainset_envs  # noqa: E402,F401  (registers the ids)


@pytest.fixture(autouse=True)
def _torch_one_thread():
    """One torch thread, as the learning checks were measured (the robustness audit asks for two)."""
    try:
        import torch

        torch.set_num_threads(int(os.environ.get("BRAINSET_AUDIT_THREADS", "1")))
    except ImportError:  # pragma: no cover
        pass
    yield


class Audit:
    """A learned-figure test's link to the robustness audit (``agents.experiments.robustness``).

    ``seed(base)`` is the test's own seed, shifted by ``BRAINSET_AUDIT_SEED`` when the audit runs it at
    other seeds; ``check(name, figures)`` records the figures (to ``BRAINSET_AUDIT_OUT``, when set) and
    asserts the limits that ``agents.experiments.checks.CHECKS[name]`` declares, so the test and the audit
    read one threshold.
    """

    def __init__(self) -> None:
        self.offset = int(os.environ.get("BRAINSET_AUDIT_SEED", "0"))
        self.out = os.environ.get("BRAINSET_AUDIT_OUT")

    def seed(self, base: int = 0) -> int:
        return base + self.offset

    def check(self, name: str, figures: dict[str, float]) -> None:
        import json

        from agents.experiments.checks import CHECKS

        check = CHECKS[name]
        assert check.measure is None, f"{name} has a measure function: call it, not audit.check"
        missing = set(check.limits) - set(figures)
        assert not missing, f"{name}: the test did not measure {sorted(missing)}"
        if self.out:
            with open(self.out, "a") as f:
                f.write(json.dumps({"check": name, **{k: float(v) for k, v in figures.items()}}) + "\n")
        failures = check.failures(figures)
        assert not failures, f"{name}: {failures}"


@pytest.fixture(scope="session")
def audit() -> Audit:
    return Audit()


def pytest_addoption(parser):
    parser.addoption("--learning-checks", action="store_true",
                     help="run only the tests of the learned-figure registry (agents.experiments.checks): "
                          "the CI runs them again under MKL_CBWR=COMPATIBLE")


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--learning-checks"):
        return
    from agents.experiments.checks import CHECKS

    wanted = {c.test.removeprefix("tests/") for c in CHECKS.values()}
    ids = {item.nodeid.removeprefix("tests/"): item for item in items}
    missing = sorted(wanted - set(ids))
    if missing:
        raise pytest.UsageError(f"registered learning checks name tests that do not exist: {missing}")
    items[:] = [ids[n] for n in ids if n in wanted]
