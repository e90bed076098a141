"""Every ```python block of the README runs (each in a fresh namespace, in a scratch folder), so that the
examples a user copies cannot drift from the code. A slow example is made faster in the README, never
skipped; the docs' own examples run in tests/agents/experiments/test_docs_site.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import ROOT

FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return FENCE.findall(text)


README_BLOCKS = python_blocks((ROOT / "README.md").read_text())


def _first_line(block: str) -> str:
    return next(line for line in block.splitlines() if line.strip())[:60]


def test_the_readme_has_python_examples():
    assert len(README_BLOCKS) >= 3, len(README_BLOCKS)  # the landing page: make an env, score it, a rule


@pytest.mark.parametrize("block", README_BLOCKS, ids=[f"block{i}" for i in range(len(README_BLOCKS))])
def test_readme_block_runs(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(block, f"README.md:{_first_line(block)}", "exec"), namespace)
    # every block ends by making something: a printed result, an env, a model
    made = capsys.readouterr().out.strip() or [k for k in namespace if not k.startswith("__")]
    assert made, block
