"""Write outputs so that a failure or a cancel never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

# Multi-part suffixes that writers (ITK, Slicer's storage nodes) use to pick a file format.
_COMPOUND_SUFFIXES = (".nii.gz", ".seg.nrrd", ".seg.nhdr", ".tar.gz")


def full_suffix(path: str | Path) -> str:
    """The suffix that decides the file format, e.g. ``.nii.gz`` or ``.seg.nrrd``, lower-case."""
    name = Path(path).name.lower()
    for suffix in _COMPOUND_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return Path(name).suffix


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    The temporary name keeps the suffix of ``path`` so that format-by-extension writers behave the same, and
    it lives in the same folder so that the final ``os.replace`` is atomic.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = full_suffix(target)
    stem = target.name[: len(target.name) - len(suffix)] if suffix else target.name
    temporary = target.with_name(f".{stem}.partial-{uuid.uuid4().hex[:8]}{suffix}")
    try:
        yield temporary
        if not temporary.exists():
            raise FileNotFoundError(f"nothing was written to {temporary}")
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_json(data: object, path: str | Path) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    import json

    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return Path(path)
