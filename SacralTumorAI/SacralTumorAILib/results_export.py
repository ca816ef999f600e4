"""The results of a segmentation node as files: the document (JSON) and its tables (CSV).

Volumes and location are recomputed from the segmentation as it is now; the classification is the last one
made, marked stale when the segmentation was edited after it (the user should press Classify again).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from sacral_tumor_ai import __version__
from sacral_tumor_ai.geometry import Geometry
from sacral_tumor_ai.hipframe import describe_location
from sacral_tumor_ai.hipframe.table import location_rows
from sacral_tumor_ai.io.atomic import atomic_output, write_json
from sacral_tumor_ai.labels import label_values
from sacral_tumor_ai.run import DISCLAIMER
from sacral_tumor_ai.segmentation import label_volumes_ml

STALE_WARNING = "The segmentation was edited after Classify: these probabilities belong to the earlier mask; press Classify again."


def results_document(volume_name: str, labelmap: sitk.Image, run_result: dict[str, Any], classification: dict[str, Any] | None, stale: bool) -> dict[str, Any]:
    """The exported ``results.json``: the run's facts, the current volumes and location, the classification."""
    geometry = Geometry.of(labelmap)
    classification = dict(classification) if classification else {"available": False, "reason": "not classified"}
    warnings = list(run_result.get("warnings", []))
    if stale and classification.get("available"):
        classification["stale"] = True
        warnings.append(STALE_WARNING)
    return {
        "software": {"name": "sacral-tumor-ai", "version": __version__},
        "disclaimer": DISCLAIMER,
        "input": {"volume": volume_name, "size": list(geometry.size), "spacing_mm": list(geometry.spacing), "orientation": geometry.orientation()},
        "labels": label_values(),
        "segmentation": run_result.get("segmentation", {}),
        "volumes_ml": label_volumes_ml(labelmap),
        "location": describe_location(labelmap),
        "classification": classification,
        "models": run_result.get("models", {}),
        "warnings": warnings,
    }


def _csv_text(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def result_tables(document: dict[str, Any]) -> dict[str, str]:
    """CSV texts: probabilities (class, probability) and measurements (volumes, location features)."""
    tables = {}
    classification = document["classification"]
    if classification.get("available"):
        rows = [["class", "probability"]] + [[name, classification["probabilities"][name]] for name in classification["ranking"]]
        tables["probabilities"] = _csv_text(rows)
    rows = [["feature", "value", "unit"]] + [[f"volume {name}", value, "mL"] for name, value in document["volumes_ml"].items()]
    rows += [list(row) for row in location_rows(document["location"])]
    tables["measurements"] = _csv_text(rows)
    return tables


def write_results(document: dict[str, Any], folder: Path, stem: str) -> list[Path]:
    """``stem.json`` and ``stem_<table>.csv``, each written atomically; returns the paths."""
    written = [write_json(document, folder / f"{stem}.json")]
    for name, text in result_tables(document).items():
        path = folder / f"{stem}_{name}.csv"
        with atomic_output(path) as temporary:
            temporary.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def read_json_attribute(node, name: str) -> dict[str, Any]:
    text = node.GetAttribute(name) if node is not None else None
    return json.loads(text) if text else {}
