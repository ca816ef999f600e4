"""MONAI-style data lists: ``{"training": [...], "validation": [...], "test": [...]}`` with relative paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sacral_tumor_ai.errors import SacralTumorAIError

SPLITS = ("training", "validation", "test")
PATH_KEYS = ("image", "label", "label_fine", "sequences")  # "sequences": MRI, per-sequence files


def _absolute(value: Any, base: Path) -> Any:
    if isinstance(value, str):
        return str((base / value).resolve())
    if isinstance(value, list):
        return [_absolute(item, base) for item in value]
    if isinstance(value, dict):
        return {key: _absolute(item, base) for key, item in value.items()}
    return value


def load_datalist(path: str | Path, split: str) -> list[dict[str, Any]]:
    """The items of ``split`` (or of every split, for "all") with paths made absolute (relative to the data
    list's folder) and checked."""
    path = Path(path)
    if not path.is_file():
        raise SacralTumorAIError(f"{path}: no such data list")
    data = json.loads(path.read_text(encoding="utf-8"))
    if split == "all":
        data = {"all": [item for name in SPLITS for item in data.get(name, [])]}
    if split not in data:
        raise SacralTumorAIError(f"{path}: no '{split}' split (has {', '.join(k for k in data if k in SPLITS)})")
    items = []
    for item in data[split]:
        item = {key: (_absolute(value, path.parent) if key in PATH_KEYS else value) for key, value in item.items()}
        for key in PATH_KEYS:
            for file in _files(item.get(key)):
                if not Path(file).exists():
                    raise SacralTumorAIError(f"{path}: {split} item {item.get('case_id', '?')}: missing {file}")
        items.append(item)
    if not items:
        raise SacralTumorAIError(f"{path}: the '{split}' split is empty")
    return items


def load_datalists(paths: list[str | Path], split: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The items of ``split`` of each data list in turn, the first ``limit`` of each."""
    return [item for path in paths for item in load_datalist(path, split)[:limit]]


def _files(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [file for item in value for file in _files(item)]
    if isinstance(value, dict):
        return [file for item in value.values() for file in _files(item)]
    return []
