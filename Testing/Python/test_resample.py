"""Reorientation and resampling: geometry is tracked exactly and results land back on the input grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.geometry import geometry_difference, orientation_code
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.resample import grid_for_spacing, reorient, resample_like, resample_to_spacing, undo_reorient


def _flip_and_permute(image: sitk.Image, order: tuple[int, int, int], flips: tuple[bool, bool, bool]) -> sitk.Image:
    """The same physical image stored with other voxel axes (as a feet-first or prone scan would be)."""
    permuted = sitk.PermuteAxes(image, list(order))
    return sitk.Flip(permuted, list(flips))


@pytest.mark.parametrize(
    ("order", "flips"),
    [((0, 1, 2), (False, False, True)), ((0, 1, 2), (True, True, False)), ((2, 0, 1), (False, True, True))],
)
def test_any_storage_order_reorients_to_the_same_voxels(real_ct_path: Path, order, flips) -> None:
    ct = read_image(real_ct_path)
    stored = _flip_and_permute(ct, order, flips)
    canonical = reorient(stored)
    assert orientation_code(canonical.GetDirection()) == "LPS"
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(canonical), sitk.GetArrayFromImage(reorient(ct)))
    assert geometry_difference(canonical, reorient(ct)) < 1e-6
    back = undo_reorient(canonical, stored)
    assert geometry_difference(back, stored) == 0.0
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(stored))


def test_oblique_image_round_trip(oblique_image: sitk.Image) -> None:
    back = undo_reorient(reorient(oblique_image), oblique_image)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(oblique_image))


def test_resampling_keeps_field_of_view_and_direction(oblique_image: sitk.Image) -> None:
    coarse = resample_to_spacing(oblique_image, (1.4, 1.7, 1.25))
    assert coarse.GetSize() == (6, 4, 14)  # 7.7/1.4, 7.65/1.7, 17.5/1.25 mm, rounded
    assert coarse.GetDirection() == oblique_image.GetDirection()

    def first_corner(image: sitk.Image) -> np.ndarray:
        return np.asarray(image.TransformContinuousIndexToPhysicalPoint([-0.5, -0.5, -0.5]))

    # The field of view starts where the input's does (the outer edge of its first voxel).
    np.testing.assert_allclose(first_corner(coarse), first_corner(oblique_image), atol=1e-6)


def test_labels_go_back_onto_the_input_grid_exactly(real_ct_path: Path) -> None:
    ct = read_image(real_ct_path)
    labels = sitk.Cast(ct > 200, sitk.sitkUInt8)
    model_grid = grid_for_spacing(ct, (1.5, 1.5, 1.5))
    on_model_grid = resample_like(labels, model_grid, label=True)
    back = resample_like(on_model_grid, ct, label=True)
    assert geometry_difference(back, ct) == 0.0 and back.GetPixelID() == sitk.sitkUInt8
    # Halving the voxel size and coming back is lossless for nearest-neighbour labels.
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(labels))


def test_preview_planes_match_dicom_orient() -> None:
    """The PNG preview reads only its three planes (a 1024 x 1024 x 900 CT reoriented and made float took
    7.6 GB; a big scan's planes may come from its file), oriented exactly as DICOMOrient would give them."""
    import itertools

    from sacral_tumor_ai.preview import _lps_order, _view_plane, _view_spacing

    array = np.random.default_rng(0).integers(0, 100, (5, 6, 7)).astype(np.int16)
    plane_of = lambda axis, index: np.take(array, index, axis=axis)  # noqa: E731
    for permutation in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            direction = np.zeros((3, 3))
            for column, (row, sign) in enumerate(zip(permutation, signs)):
                direction[row, column] = sign
            image = sitk.GetImageFromArray(array)
            image.SetDirection(direction.flatten().tolist())
            image.SetSpacing((1.0, 2.0, 3.0))
            oriented = sitk.DICOMOrient(image, "LPS")
            expected = sitk.GetArrayViewFromImage(oriented)
            order = _lps_order(image.GetDirection())
            for view_axis in range(3):
                for index in (0, 1, expected.shape[view_axis] - 1):
                    plane = _view_plane(plane_of, array.shape, order, view_axis, index)
                    assert np.array_equal(plane, np.take(expected, index, axis=view_axis))
            assert np.allclose(_view_spacing(image.GetSpacing(), order), oriented.GetSpacing())
