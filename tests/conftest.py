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
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    yield


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
