"""The hip frame and location features as MRML nodes: a markups node and a table node.

Core results are in LPS; MRML is RAS, so the first two coordinates change sign here and nowhere else.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from sacral_tumor_ai.hipframe import HipFrame
from sacral_tumor_ai.hipframe.table import location_rows

LOCATION_ATTRIBUTE = "SacralTumorAI.Location"
AXIS_LENGTH_MM = 50.0


def _ras(lps: np.ndarray) -> list[float]:
    x, y, z = (float(v) for v in lps)
    return [-x, -y, z]


def frame_points(location: dict[str, Any]) -> list[tuple[str, list[float]]]:
    """Labelled RAS points: the frame's origin, its axes' tips (50 mm out) and the acetabular centres."""
    frame = HipFrame.from_json(location["frame"])
    points = [("origin", _ras(frame.origin))]
    points += [(name, _ras(frame.origin + AXIS_LENGTH_MM * axis)) for name, axis in zip(("x left", "y posterior", "z superior"), frame.axes)]
    for side, acetabulum in location["acetabula"].items():
        points.append((f"{side.split('_')[1]} acetabulum", _ras(frame.to_world(acetabulum["centre_frame"]))))
    return points


def tumour_centre_ras(location: dict[str, Any]) -> list[float] | None:
    """The tumour's centroid in RAS (None when the location is unavailable)."""
    if not location.get("available"):
        return None
    return _ras(HipFrame.from_json(location["frame"]).to_world(np.asarray(location["centroid_frame"], float)))


def show_slices_at(scene, ras: list[float]) -> None:
    """Move every slice view of ``scene`` to pass through ``ras`` (views keep their orientation and zoom)."""
    nodes = scene.GetNodesByClass("vtkMRMLSliceNode")
    for index in range(nodes.GetNumberOfItems()):
        nodes.GetItemAsObject(index).JumpSliceByOffsetting(*ras)


def add_frame_markups(scene, location: dict[str, Any], name: str = "Hip frame"):
    """A locked point list holding the frame's origin, axis tips and acetabular centres."""
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", name)
    for label, position in frame_points(location):
        index = node.AddControlPoint(*position)
        node.SetNthControlPointLabel(index, label)
    node.SetLocked(True)
    node.SetAttribute(LOCATION_ATTRIBUTE, json.dumps(location["frame"]))
    return node


def add_location_table(scene, location: dict[str, Any], name: str = "Tumour location"):
    """A table node with one row per feature (Feature, Value, Unit); the full result in an attribute."""
    import vtk

    node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    table = node.GetTable()
    for title in ("Feature", "Value", "Unit"):
        column = vtk.vtkStringArray()
        column.SetName(title)
        table.AddColumn(column)
    for row in location_rows(location):
        index = node.AddEmptyRow()
        for column, text in enumerate(row):
            node.SetCellText(index, column, str(text))
    node.SetAttribute(LOCATION_ATTRIBUTE, json.dumps(location))
    return node
