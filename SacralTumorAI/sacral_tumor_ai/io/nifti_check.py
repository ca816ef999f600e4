"""Detect truncated NIfTI files, which ITK reads without complaint, filling the missing voxels with zeros."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from sacral_tumor_ai.errors import InputImageError

_CHUNK = 1 << 22


def _header_bytes(path: Path, count: int) -> bytes:
    if path.name.lower().endswith(".gz"):
        decompressor = zlib.decompressobj(wbits=31)
        with path.open("rb") as stream:
            data = b""
            while len(data) < count:
                chunk = stream.read(65536)
                if not chunk:
                    break
                try:
                    data += decompressor.decompress(chunk)
                except zlib.error as error:
                    raise InputImageError(path, f"is corrupt (gzip: {error})") from error
        return data[:count]
    with path.open("rb") as stream:
        return stream.read(count)


def expected_nifti_bytes(header: bytes) -> int | None:
    """Header + voxel bytes that a NIfTI-1 or NIfTI-2 header announces; None if it is neither."""
    for endian in "<>":
        if len(header) >= 348 and struct.unpack(endian + "i", header[:4])[0] == 348:
            dims = struct.unpack(endian + "8h", header[40:56])
            bitpix = struct.unpack(endian + "h", header[72:74])[0]
            offset = int(struct.unpack(endian + "f", header[108:112])[0])
            break
        if len(header) >= 540 and struct.unpack(endian + "i", header[:4])[0] == 540:
            bitpix = struct.unpack(endian + "h", header[14:16])[0]
            dims = struct.unpack(endian + "8q", header[16:80])
            offset = struct.unpack(endian + "q", header[168:176])[0]
            break
    else:
        return None
    voxels = 1
    for size in dims[1 : 1 + max(0, min(int(dims[0]), 7))]:
        voxels *= max(int(size), 0)
    return offset + voxels * bitpix // 8


def _stored_bytes(path: Path) -> int:
    """Bytes the file holds once decompressed; raises if a gzip stream is cut short or corrupt."""
    if not path.name.lower().endswith(".gz"):
        return path.stat().st_size
    decompressor = zlib.decompressobj(wbits=31)
    total = 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                total += len(decompressor.decompress(chunk))
                while decompressor.unconsumed_tail:
                    total += len(decompressor.decompress(decompressor.unconsumed_tail))
        total += len(decompressor.flush())
    except zlib.error as error:
        raise InputImageError(path, f"is corrupt (gzip: {error})") from error
    if not decompressor.eof:
        raise InputImageError(path, "is truncated (the gzip stream ends early)")
    return total


def check_nifti_complete(path: str | Path) -> None:
    """Raise :class:`InputImageError` if a NIfTI file holds fewer bytes than its header announces."""
    path = Path(path)
    expected = expected_nifti_bytes(_header_bytes(path, 540))
    if expected is None:
        return  # not a NIfTI header: let the reader report what it is
    stored = _stored_bytes(path)
    if stored < expected:
        raise InputImageError(
            path, f"is truncated: the header announces {expected} bytes but the file holds {stored}"
        )
