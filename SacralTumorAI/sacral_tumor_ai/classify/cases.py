"""Classifier training and evaluation cases: a data-list item -> tumour crop, location, clinical values and
class, computed through the same functions as at prediction time and cached on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sacral_tumor_ai.classify.crop import CropSpec, NoTumourError, tumour_crop
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.hipframe import HipFrame, describe_location
from sacral_tumor_ai.io import read_image

CLINICAL_KEYS = ("age", "sex")


def frame_axes(location: dict[str, Any]) -> np.ndarray | None:
    """The hip frame's axes (rows, world LPS) when the location has a frame."""
    if not location.get("available"):
        return None
    return HipFrame.from_json(location["frame"]).axes


def prepare_case(item: dict[str, Any], crop: CropSpec, cache: Path) -> dict[str, Any]:
    """Crop, location and clinical values of one item (its ``label`` holds the tumour), from the cache when
    there. The crop spec is part of the cache key."""
    case_id = item.get("case_id") or Path(item["image"]).name.split(".")[0]
    key = "x".join(map(str, crop.size)) + f"_m{crop.margin_mm:g}"
    path = cache / f"{case_id}_{key}.npz"
    if not path.exists():
        labelmap = read_image(item["label"])
        location = describe_location(labelmap)
        result = tumour_crop(read_image(item["image"]), labelmap, crop, frame_axes(location))
        cache.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.stem}.partial.npz")
        np.savez(temporary, crop=result.array.astype(np.float16), location=json.dumps(location))
        temporary.replace(path)
    with np.load(path) as data:
        return {
            "case_id": case_id,
            "crop": data["crop"].astype(np.float32),
            "location": json.loads(str(data["location"])),
            "clinical": {key: item.get(key) for key in CLINICAL_KEYS},
            "class": item.get("class"),
        }


def prepare_cases(items: list[dict[str, Any]], crop: CropSpec, cache: Path, log=print) -> list[dict[str, Any]]:
    """:func:`prepare_case` for every item, leaving out (and naming) items whose label has no tumour, for
    example a generated tumour outside the field of view."""
    cases, skipped = [], []
    for item in items:
        try:
            cases.append(prepare_case(item, crop, cache))
        except NoTumourError:
            skipped.append(item.get("case_id", item["image"]))
    if skipped:
        log(f"left out {len(skipped)} case(s) whose label has no tumour: {', '.join(map(str, skipped))}")
    return cases


def class_index(case: dict[str, Any], classes: list[str]) -> int:
    if case["class"] not in classes:
        raise SacralTumorAIError(f"{case['case_id']}: class {case['class']!r} is not one of {classes}")
    return classes.index(case["class"])
