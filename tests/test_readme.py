"""Every ```python block of the README runs (each in a fresh namespace, in a scratch folder), so that the
examples a user copies cannot drift from the code. A slow example is made faster in the README, never
skipped; the docs' own examples run in tests/agents/experiments/test_docs_site.py. A value quoted in a
print line's comment (``print(x)  # 3.67: why``) must be what that line prints."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from tests import ROOT

FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return FENCE.findall(text)


README_BLOCKS = python_blocks((ROOT / "README.md").read_text())


# a value standing alone: not a digit of a word such as MP4s or E_5
_TOKEN = re.compile(r"(?<![\w.])(?:nan|True|False|-?\d+(?:\.\d+)?(?:e-?\d+)?)(?![\w])")


def quoted_outputs(block: str) -> dict[int, list[str]]:
    """{line number: the values its comment quotes} for each ``print(...)  # 3.67 vs 4.60: why`` line: the
    numbers (and True / False / nan) of the comment before its first ': ' are what the print shows."""
    out = {}
    for no, line in enumerate(block.splitlines(), 1):
        code, hash_, comment = line.partition("  # ")
        if hash_ and code.lstrip().startswith("print("):
            tokens = _TOKEN.findall(comment.split(": ", 1)[0])
            if tokens:
                out[no] = tokens
    return out


def _matches(token: str, printed: str) -> bool:
    """``token`` (as quoted, at its precision) is one of the values in ``printed``."""
    if token in ("nan", "True", "False"):
        return token in printed
    decimals = len(token.partition(".")[2]) if "e" not in token else 12
    want = float(token)
    return any(abs(float(v) - want) <= 0.5 * 10 ** -decimals + 1e-12 * abs(want)
               for v in re.findall(r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?", printed))


def run_block(block: str, namespace: dict, where: str) -> list[str]:
    """Run ``block`` in ``namespace``; returns what it printed. Every value quoted in a print line's comment
    (:func:`quoted_outputs`) must be among the values that line printed, at the quoted precision."""
    printed: dict[int, list[str]] = {}
    lines: list[str] = []

    def record(*args, **kwargs) -> None:
        text = " ".join(map(str, args))
        frame = inspect.currentframe().f_back  # type: ignore[union-attr]
        if frame is not None and frame.f_code.co_filename == where:
            printed.setdefault(frame.f_lineno, []).append(text)
        lines.append(text)

    namespace["print"] = record
    exec(compile(block, where, "exec"), namespace)
    for no, tokens in quoted_outputs(block).items():
        shown = " ".join(printed.get(no, []))
        wrong = [t for t in tokens if not _matches(t, shown)]
        assert not wrong, f"{where} line {no} quotes {wrong}, but it printed {shown!r}"
    return lines


def _first_line(block: str) -> str:
    return next(line for line in block.splitlines() if line.strip())[:60]


def test_the_readme_has_python_examples():
    assert len(README_BLOCKS) >= 3, len(README_BLOCKS)  # the landing page: make an env, score it, a rule


@pytest.mark.parametrize("block", README_BLOCKS, ids=[f"block{i}" for i in range(len(README_BLOCKS))])
def test_readme_block_runs(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    printed = run_block(block, namespace, f"README.md:{_first_line(block)}")
    # every block ends by making something: a printed result, an env, a model
    assert printed or [k for k in namespace if not k.startswith("__") and k != "print"], block


def test_quoted_outputs_are_read_and_checked():
    block = 'x = 3.6702\nprint(x, 4.5959)  # 3.67 vs 4.60: it overstays\nprint(x)  # no figure in MP4s\n'
    assert quoted_outputs(block) == {2: ["3.67", "4.60"]}
    run_block(block, {}, "<quoted>")
    with pytest.raises(AssertionError, match="quotes"):
        run_block(block.replace("4.60", "4.70"), {}, "<quoted>")
