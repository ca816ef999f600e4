"""The "no pelvis" check: hip-bone volumes, and on MRI a hip bone meeting the sacrum at the SI joint."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.errors import AnatomyNotFoundError
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM
from sacral_tumor_ai.segmentation import check_anatomy, hip_to_sacrum_gap_mm, label_volumes_ml


def _pelvis(gap_voxels: int, spacing: float = 2.0) -> sitk.Image:
    """Two hip blocks and a sacrum block between them, ``gap_voxels`` apart on each side (x)."""
    array = np.zeros((30, 40, 60), np.uint8)
    array[5:25, 10:30, 30 - 6 : 30 + 6] = SACRUM.value
    array[5:25, 10:30, 2 : 24 - gap_voxels] = HIP_RIGHT.value
    array[5:25, 10:30, 36 + gap_voxels : 58] = HIP_LEFT.value
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((spacing, 3.0, 4.0))
    return image


def test_the_gap_is_measured_in_millimetres() -> None:
    assert hip_to_sacrum_gap_mm(_pelvis(1)) == pytest.approx(4.0)  # two 2 mm voxels from bone to bone
    assert hip_to_sacrum_gap_mm(_pelvis(10)) == pytest.approx(22.0)
    without_sacrum = sitk.ChangeLabel(_pelvis(1), {SACRUM.value: 0})
    assert hip_to_sacrum_gap_mm(without_sacrum) is None


def test_hip_bones_away_from_the_sacrum_are_not_a_pelvis() -> None:
    joined, apart = _pelvis(1), _pelvis(10)
    assert check_anatomy(label_volumes_ml(joined), "scan", "an MRI", True, hip_to_sacrum_gap_mm(joined)) == ["no tumour found by the model; draw it by hand if one is present"]
    with pytest.raises(AnatomyNotFoundError, match="22 mm from the part called sacrum"):
        check_anatomy(label_volumes_ml(apart), "scan", "an MRI", True, hip_to_sacrum_gap_mm(apart))
    # One hip bone at its joint is enough (the other may be destroyed or cut by the field of view).
    one_side = sitk.GetArrayFromImage(_pelvis(10))
    one_side[5:25, 10:30, 36:40] = HIP_LEFT.value
    image = sitk.GetImageFromArray(one_side)
    image.CopyInformation(_pelvis(10))
    assert hip_to_sacrum_gap_mm(image) == pytest.approx(0.0, abs=2.1)


def test_label_counts_slab_by_slab_equal_a_plain_count() -> None:
    from sacral_tumor_ai.segmentation import label_counts

    labels = np.random.default_rng(2).integers(0, 5, (13, 17, 19)).astype(np.uint8)
    expected = np.bincount(labels.ravel(), minlength=256)
    for slab_voxels in (1, 17 * 19 * 4, 10**9):  # one slice, four slices, all at once
        assert np.array_equal(label_counts(labels, slab_voxels), expected)
