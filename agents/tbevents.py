"""A minimal TensorBoard scalar writer (tfevents records) used when the ``tensorboard`` package, which
``torch.utils.tensorboard`` needs, is not installed. Writes the same file format: TFRecord framing
(length, masked CRC32C, data, masked CRC32C) around ``Event`` protocol buffers with scalar summaries.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    return _varint((num << 3) | wire) + payload


def _bytes_field(num: int, data: bytes) -> bytes:
    return _field(num, 2, _varint(len(data)) + data)


def event(wall_time: float, step: int, *, file_version: str | None = None,
          scalars: dict[str, float] | None = None) -> bytes:
    """Serialized ``tensorflow.Event``: wall_time=1 (double), step=2 (int64), file_version=3,
    summary=5 -> Summary.value=1 -> {tag=1, simple_value=2 (float)}."""
    msg = _field(1, 1, struct.pack("<d", wall_time)) + _field(2, 0, _varint(step))
    if file_version is not None:
        msg += _bytes_field(3, file_version.encode())
    if scalars:
        summary = b"".join(
            _bytes_field(1, _bytes_field(1, tag.encode()) + _field(2, 5, struct.pack("<f", float(v))))
            for tag, v in scalars.items())
        msg += _bytes_field(5, summary)
    return msg


def record(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    head_crc = struct.pack("<I", _masked(crc32c(header)))
    return header + head_crc + data + struct.pack("<I", _masked(crc32c(data)))


class ScalarWriter:
    """``add_scalar`` / ``flush`` / ``close`` like torch's SummaryWriter, scalars only."""

    def __init__(self, log_dir: str | Path):
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.brainset"
        self._f = open(Path(log_dir) / name, "ab")  # noqa: SIM115
        self._f.write(record(event(time.time(), 0, file_version="brain.Event:2")))

    def add_scalar(self, tag: str, value: float, global_step: int = 0) -> None:
        self._f.write(record(event(time.time(), int(global_step), scalars={tag: value})))

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def read_scalars(path: str | Path) -> list[tuple[int, str, float]]:
    """(step, tag, value) of every scalar in a tfevents file written by :class:`ScalarWriter` (checks the
    CRCs; used by the tests)."""
    data = Path(path).read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        (hcrc,) = struct.unpack_from("<I", data, pos + 8)
        if hcrc != _masked(crc32c(data[pos:pos + 8])):
            raise ValueError(f"bad header CRC at byte {pos} of {path}")
        body = data[pos + 12: pos + 12 + n]
        (dcrc,) = struct.unpack_from("<I", data, pos + 12 + n)
        if dcrc != _masked(crc32c(body)):
            raise ValueError(f"bad data CRC at byte {pos} of {path}")
        out.extend(_parse_event(body))
        pos += 16 + n
    return out


def _read_varint(b: bytes, i: int) -> tuple[int, int]:
    shift = n = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return n, i


def _fields(b: bytes):
    i = 0
    while i < len(b):
        key, i = _read_varint(b, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _read_varint(b, i)
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        elif wire == 2:
            n, i = _read_varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield num, v


def _parse_event(b: bytes) -> list[tuple[int, str, float]]:
    step, out = 0, []
    for num, v in _fields(b):
        if num == 2:
            step = v
        elif num == 5:
            for _, val in _fields(v):
                tag, x = "", 0.0
                for n2, v2 in _fields(val):
                    if n2 == 1:
                        tag = v2.decode()
                    elif n2 == 2:
                        (x,) = struct.unpack("<f", v2)
                out.append((step, tag, x))
    return out
