"""The hip frame and location table on real MRML nodes (slicer-core), from a segmentation node."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

slicer = pytest.importorskip("slicer", reason="slicer-core is part of the project's set-up")

from sacral_tumor_ai.hipframe import describe_location  # noqa: E402
from sacral_tumor_ai.labels import TUMOR  # noqa: E402
from sacral_tumor_ai.phantom.known import pelvis_labelmap  # noqa: E402
from SacralTumorAILib import SacralTumorAILogic, add_segmentation_node, add_volume_node  # noqa: E402
from SacralTumorAILib.location_nodes import LOCATION_ATTRIBUTE  # noqa: E402


@pytest.fixture(scope="module")
def case():
    pelvis = pelvis_labelmap(5)[1]
    labelmap, _ = pelvis_labelmap(5, [(0.0, float(pelvis.sacral_centre_y(0.3)), pelvis.sacrum_top - 0.3 * pelvis.sacrum_length, 15.0)])
    return labelmap


def _column(table_node, index: int) -> list[str]:
    return [table_node.GetCellText(row, index) for row in range(table_node.GetNumberOfRows())]


def test_logic_adds_frame_markups_and_table(case) -> None:
    scene = slicer.vtkMRMLScene()
    volume = add_volume_node(scene, case, "labels as volume")
    segmentation = add_segmentation_node(scene, case, "Segmentation", volume)
    result = SacralTumorAILogic(scene).locate_tumour(segmentation, volume)
    expected = describe_location(case)
    assert result.location["enneking_zones"] == expected["enneking_zones"] == ["IV"]
    assert np.allclose(result.location["centroid_frame"], expected["centroid_frame"], atol=1.0)

    frame = result.frame_node
    labels = [frame.GetNthControlPointLabel(i) for i in range(frame.GetNumberOfControlPoints())]
    assert labels == ["origin", "x left", "y posterior", "z superior", "left acetabulum", "right acetabulum"]
    assert frame.GetLocked()
    origin, left_tip = np.array(frame.GetNthControlPointPosition(0)), np.array(frame.GetNthControlPointPosition(1))
    # RAS: the patient's left is -R, so the x-axis tip lies at smaller R than the origin, 50 mm away.
    assert left_tip[0] < origin[0] and np.linalg.norm(left_tip - origin) == pytest.approx(50.0, abs=0.01)
    lps_origin = result.location["frame"]["origin_world_lps_mm"]
    assert np.allclose(origin, [-lps_origin[0], -lps_origin[1], lps_origin[2]], atol=0.01)

    table = result.table_node
    assert table.GetColumnName(0) == "Feature" and table.GetNumberOfColumns() == 3
    rows = dict(zip(_column(table, 0), _column(table, 1)))
    assert rows["Enneking zones"] == "IV" and rows["Frame quality"] == "good"
    assert json.loads(table.GetAttribute(LOCATION_ATTRIBUTE))["enneking_zones"] == ["IV"]


def test_unavailable_location_adds_a_table_with_the_reason_and_no_frame(case) -> None:
    scene = slicer.vtkMRMLScene()
    array = sitk.GetArrayFromImage(case)
    array[array == TUMOR.value] = 0
    no_tumour = sitk.GetImageFromArray(array)
    no_tumour.CopyInformation(case)
    volume = add_volume_node(scene, no_tumour, "volume")
    segmentation = add_segmentation_node(scene, no_tumour, "Segmentation", volume)
    before = scene.GetNumberOfNodesByClass("vtkMRMLMarkupsFiducialNode")
    result = SacralTumorAILogic(scene).locate_tumour(segmentation, volume)
    assert result.frame_node is None and scene.GetNumberOfNodesByClass("vtkMRMLMarkupsFiducialNode") == before
    assert result.table_node.GetCellText(1, 1).startswith("The tumour mask is empty")
