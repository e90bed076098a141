"""Atomic file writes: write to a temporary file beside the target, then rename (nothing half-written)."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path with the same suffix; on success it replaces ``path`` (mode 0644)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=path.suffix, prefix=f".{path.stem}.", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(data: Any, path: str | os.PathLike) -> None:
    """Write ``data`` as indented JSON atomically (numpy scalars become floats)."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=2, default=float)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (fsync before the rename): for checkpoints."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save_result_and_figure(result: Any, fig: Any, out_dir: str | os.PathLike, stem: str,
                           extra_png: str | os.PathLike | None = None) -> list[Path]:
    """Write ``<stem>.json`` (``result``) and ``<stem>.png`` (a matplotlib figure, closed afterwards) into
    ``out_dir``, and the PNG also to ``extra_png`` when given (e.g. a README asset); all atomically.
    Returns the written paths, JSON first."""
    import matplotlib.pyplot as plt  # deferred: matplotlib is optional and slow to import; only figures need it

    out_dir = Path(out_dir)
    write_json(result, out_dir / f"{stem}.json")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    paths = [out_dir / f"{stem}.json", out_dir / f"{stem}.png"] + ([Path(extra_png)] if extra_png else [])
    for path in paths[1:]:
        atomic_write_bytes(path, buf.getvalue())
    return paths
