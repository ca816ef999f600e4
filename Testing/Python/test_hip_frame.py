"""The hip-bone reference frame: invariance to pose and sampling, zones on known geometry, robustness."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.phantom.known import pelvis_labelmap
from sacral_tumor_ai.hipframe import describe_location
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR
from sacral_tumor_ai.phantom.anatomy import Pelvis


def _si_point(p: Pelvis) -> tuple[float, float, float]:
    z = p.sacrum_top - 25.0
    return (p.sacrum_half_width * 0.92 * (1 - 0.2 * float(p.sacral_position(np.float32(z)))), 25.0 * p.scale, z)


def _spheres(p: Pelvis) -> dict[str, tuple[float, float, float, float]]:
    """One tumour per zone (left side), placed from the pelvis's own construction parameters."""
    s, (ax, ay, az) = p.scale, p.acetabulum
    wing_z = p.crest_height - 25.0
    wing_x = (68 * s + 0.55 * (wing_z + 10 * s)) * p.wing_spread * p.width
    t = 0.35
    return {
        "I": (wing_x, 0.0, wing_z, 14.0),
        "II": (ax - 12.0, ay, az, 16.0),
        "III": (15.0 * s, -68.0 * s, az - 20.0 * s, 11.0),
        "IV": (0.0, float(p.sacral_centre_y(t)), p.sacrum_top - t * p.sacrum_length, 16.0),
        "I+IV": (*_si_point(p), 20.0),
    }


@pytest.fixture(scope="module")
def pelvis() -> Pelvis:
    return pelvis_labelmap(3)[1]


@pytest.mark.parametrize("zone", ["I", "II", "III", "IV", "I+IV"])
def test_known_geometry_gives_the_expected_zones(pelvis: Pelvis, zone: str) -> None:
    labelmap, _ = pelvis_labelmap(3, [_spheres(pelvis)[zone]])
    location = describe_location(labelmap)
    assert location["available"], location["reason"]
    assert location["enneking_zones"] == zone.split("+")
    assert location["laterality"] == ("bilateral" if zone == "IV" else "left")
    if zone == "IV":
        assert "S2" in location["sacral_levels"] and location["crosses_midline"]
    if zone == "I+IV":
        assert location["crosses_si_joint"]["left"] and not location["crosses_si_joint"]["right"]
        assert location["si_joint_distance_mm"]["left"]["edge"] <= 4.0  # the tumour replaced the joint it crosses
    assert location["quality"] == "good", location["warnings"]


def test_the_si_joint_is_found_across_a_joint_space_on_3_mm_voxels(pelvis: Pelvis) -> None:
    # A real scan's joint space (and a segmentation a voxel off) puts the hip bones 6-10 mm from the sacrum,
    # voxel centre to centre, on a 3 mm grid: the joint must still be found on both sides.
    from scipy import ndimage

    labelmap, _ = pelvis_labelmap(3, [_spheres(pelvis)["I"]], spacing=3.0)
    labels = sitk.GetArrayFromImage(labelmap)
    distance = ndimage.distance_transform_edt(labels != SACRUM.value, sampling=labelmap.GetSpacing()[::-1])
    labels[np.isin(labels, (HIP_LEFT.value, HIP_RIGHT.value)) & (distance < 7.0)] = 0
    opened = sitk.GetImageFromArray(labels)
    opened.CopyInformation(labelmap)
    location = describe_location(opened)
    for side in ("left", "right"):
        assert location["si_joint_distance_mm"][side] is not None, side
        assert location["crosses_si_joint"][side] is False


def _rotation(rng: np.random.Generator, degrees: float = 20.0) -> np.ndarray:
    ax, ay, az = np.radians(rng.uniform(-degrees, degrees, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _moved(labelmap: sitk.Image, rotation: np.ndarray, shift: np.ndarray, scale: float, spacing: tuple[float, float, float]) -> sitk.Image:
    """The same anatomy turned, shifted and scaled in the scanner, then resampled onto an axis-aligned grid
    of ``spacing`` (so the voxels cut it differently)."""
    moved = sitk.Image(labelmap)
    moved.SetDirection((rotation @ np.array(labelmap.GetDirection()).reshape(3, 3)).flatten().tolist())
    moved.SetSpacing([s * scale for s in labelmap.GetSpacing()])
    moved.SetOrigin((rotation @ np.array(labelmap.GetOrigin()) * scale + shift).tolist())
    corners = np.array([moved.TransformIndexToPhysicalPoint([int(i), int(j), int(k)]) for i in (0, labelmap.GetWidth() - 1) for j in (0, labelmap.GetHeight() - 1) for k in (0, labelmap.GetDepth() - 1)])
    low, high = corners.min(axis=0), corners.max(axis=0)
    reference = sitk.Image([int(np.ceil((h - l) / s)) + 1 for l, h, s in zip(low, high, spacing)], sitk.sitkUInt8)
    reference.SetSpacing(spacing)
    reference.SetOrigin(low.tolist())
    return sitk.Resample(moved, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0)


@pytest.mark.parametrize("zone", ["I", "II", "III", "IV"])
def test_frame_coordinates_do_not_change_with_pose_scale_and_sampling(pelvis: Pelvis, zone: str) -> None:
    labelmap, _ = pelvis_labelmap(3, [_spheres(pelvis)[zone]])
    reference = describe_location(labelmap)
    rng = np.random.default_rng(["I", "II", "III", "IV"].index(zone))
    for trial in range(3):
        scale = float(rng.uniform(0.9, 1.1))
        spacing = (float(rng.uniform(1.2, 2.0)), float(rng.uniform(1.2, 2.0)), float(rng.uniform(1.5, 3.0)))
        moved = describe_location(_moved(labelmap, _rotation(rng), rng.uniform(-30, 30, 3), scale, spacing))
        assert moved["enneking_zones"] == reference["enneking_zones"]
        frame_scale = reference["frame"]["scale_mm"]
        centroid = np.array(moved["centroid_scaled"])
        assert np.linalg.norm(centroid - reference["centroid_scaled"]) <= max(2.0 / frame_scale, 0.01), (trial, centroid, reference["centroid_scaled"])
        if scale == 1.0:
            assert np.allclose(moved["centroid_frame"], reference["centroid_frame"], atol=2.0)
        assert moved["frame"]["scale_mm"] == pytest.approx(frame_scale * scale, rel=0.01)


def test_unscaled_motion_keeps_millimetres(pelvis: Pelvis) -> None:
    labelmap, _ = pelvis_labelmap(3, [_spheres(pelvis)["II"]])
    reference = describe_location(labelmap)
    rng = np.random.default_rng(7)
    moved = describe_location(_moved(labelmap, _rotation(rng), rng.uniform(-30, 30, 3), 1.0, (1.4, 1.4, 2.5)))
    assert np.allclose(moved["centroid_frame"], reference["centroid_frame"], atol=2.0)
    assert moved["volume_ml"] == pytest.approx(reference["volume_ml"], rel=0.05)


def test_a_mirrored_direction_matrix_describes_the_same_anatomy(pelvis: Pelvis) -> None:
    labelmap, _ = pelvis_labelmap(3, [_spheres(pelvis)["I"]])
    array = sitk.GetArrayFromImage(labelmap)[:, :, ::-1]
    mirrored = sitk.GetImageFromArray(np.ascontiguousarray(array))
    mirrored.SetSpacing(labelmap.GetSpacing())
    mirrored.SetDirection((-1, 0, 0, 0, 1, 0, 0, 0, 1))
    mirrored.SetOrigin(labelmap.TransformIndexToPhysicalPoint([labelmap.GetWidth() - 1, 0, 0]))
    reference, flipped = describe_location(labelmap), describe_location(mirrored)
    assert np.allclose(flipped["centroid_frame"], reference["centroid_frame"], atol=0.01)
    assert flipped["enneking_zones"] == reference["enneking_zones"] and flipped["quality"] == "good"


def test_swapped_left_and_right_labels_are_flagged(pelvis: Pelvis) -> None:
    labelmap, _ = pelvis_labelmap(3, [_spheres(pelvis)["I"]])
    array = sitk.GetArrayFromImage(labelmap)
    swapped = array.copy()
    swapped[array == HIP_LEFT.value], swapped[array == HIP_RIGHT.value] = HIP_RIGHT.value, HIP_LEFT.value
    image = sitk.GetImageFromArray(swapped)
    image.CopyInformation(labelmap)
    location = describe_location(image)
    assert location["quality"] == "reduced" and any("mirrored" in w for w in location["warnings"])


def _edited(labelmap: sitk.Image, edit) -> sitk.Image:
    array = sitk.GetArrayFromImage(labelmap)
    edit(array)
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(labelmap)
    return image


def test_partly_destroyed_hip_bone_is_flagged_not_refused(pelvis: Pelvis) -> None:
    labelmap, _ = pelvis_labelmap(3, [_spheres(pelvis)["IV"]])
    k = sitk.GetArrayViewFromImage(labelmap).shape[0]

    def destroy_upper_left_ilium(array: np.ndarray) -> None:
        upper = array[k // 2 :]
        upper[upper == HIP_LEFT.value] = 0

    location = describe_location(_edited(labelmap, destroy_upper_left_ilium))
    assert location["available"] and location["quality"] == "reduced"
    assert any("differ in volume" in w and "left one is smaller" in w for w in location["warnings"])
    assert location["enneking_zones"] == ["IV"]


def test_missing_hip_bone_or_tumour_is_reported_without_numbers(pelvis: Pelvis) -> None:
    labelmap, _ = pelvis_labelmap(3, [_spheres(pelvis)["IV"]])

    def remove(value: int):
        def edit(array: np.ndarray) -> None:
            array[array == value] = 0
        return edit

    no_hip = describe_location(_edited(labelmap, remove(HIP_RIGHT.value)))
    assert not no_hip["available"] and "right hip bone" in no_hip["reason"] and no_hip["centroid_frame"] is None
    no_tumour = describe_location(_edited(labelmap, remove(TUMOR.value)))
    assert not no_tumour["available"] and "empty" in no_tumour["reason"] and no_tumour["enneking_zones"] == []


def test_pelvis_cut_by_the_field_of_view_is_flagged(pelvis: Pelvis) -> None:
    labelmap, _ = pelvis_labelmap(3, [_spheres(pelvis)["I"]])
    size = list(labelmap.GetSize())
    cropped = sitk.RegionOfInterest(labelmap, [size[0], size[1], size[2] - 70], [0, 0, 70])  # lose the ischia
    location = describe_location(cropped)
    assert location["available"] and location["quality"] == "reduced"
    assert any("cut by the field of view" in w and "bottom" in w for w in location["warnings"])
    assert location["enneking_zones"] == ["I"]


def test_generated_cohort_zones_agree_with_the_generator() -> None:
    """The generator knows the zone of each tumour's centre; the frame must list it for every case."""
    from sacral_tumor_ai.phantom.case import ScanSettings, generate_case

    settings = ScanSettings(size=(180, 170, 150), in_plane_mm=(2.2, 2.2), slice_mm=(2.2, 2.2))
    for index in range(8):
        case = generate_case(55, index, settings)
        location = describe_location(case.labelmap)
        assert case.clinical["zone"] in location["enneking_zones"], (index, case.clinical, location["zone_fractions"])
        if case.clinical["sacral_level"]:
            assert case.clinical["sacral_level"] in location["sacral_levels"]


def test_location_readouts_agree_with_the_location(pelvis: Pelvis) -> None:
    from sacral_tumor_ai.hipframe.table import location_line, location_lines, location_rows

    labelmap, _ = pelvis_labelmap(3, [_spheres(pelvis)["IV"]])
    location = describe_location(labelmap)
    x = f"{location['centroid_frame'][0]:+.0f} mm left"
    line, lines, rows = location_line(location), location_lines(location), dict((r[0], r[1]) for r in location_rows(location))
    assert line.startswith("Enneking zone(s) IV (") and x in line
    assert lines[0] == "Enneking zone(s): IV" and any(x in part for part in lines) and rows["Enneking zones"] == "IV"
    assert lines[-1] == f"Tumour volume: {location['volume_ml']:.1f} mL"
    empty = describe_location(_edited(labelmap, lambda array: array.__setitem__(array == TUMOR.value, 0)))
    assert location_line(empty) == f"not available: {empty['reason']}" and location_lines(empty) == [f"Location not available: {empty['reason']}"]
