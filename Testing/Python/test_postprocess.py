"""Seed 1's post-processing: one tumour, one of each bone (with the pieces its tumour joins), holes filled."""

from __future__ import annotations

import numpy as np

from sacral_tumor_ai.ctseg.postprocess import drop_tumour_far_from_pelvis, drop_unsure_tumour, postprocess_labels
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR

VALUES = [0, TUMOR.value, HIP_LEFT.value, HIP_RIGHT.value, SACRUM.value]
BONES = VALUES[2:]


def test_a_bone_cut_in_two_by_its_tumour_keeps_both_pieces_and_loses_stray_islands() -> None:
    labels = np.zeros((12, 20, 40), np.uint8)
    labels[2:10, 5:15, 2:14] = HIP_LEFT.value  # the larger piece
    labels[2:10, 5:15, 14:20] = TUMOR.value  # destroys the bone across its whole section
    labels[2:10, 5:15, 20:26] = HIP_LEFT.value  # the smaller piece, beyond the tumour
    labels[4:6, 8:10, 34:36] = HIP_LEFT.value  # an island touching nothing: a false positive
    labels[0, 0, 30] = TUMOR.value  # a stray tumour voxel
    labels[2:10, 16:19, 2:10] = HIP_RIGHT.value  # another bone next to the left one
    labels[3, 17, 5] = 0  # a hole inside it
    result = postprocess_labels(labels, VALUES, bones_through_tumour=True)
    assert (result[2:10, 5:15, 20:26] == HIP_LEFT.value).all()
    assert (result[2:10, 5:15, 2:14] == HIP_LEFT.value).all()
    assert (result[4:6, 8:10, 34:36] == 0).all()
    assert result[0, 0, 30] == 0 and (result[2:10, 5:15, 14:20] == TUMOR.value).all()
    assert (result[2:10, 16:19, 2:10] == HIP_RIGHT.value).all()  # hole filled, not joined to the left hip
    # Without the bridge (the MRI pipeline), the smaller piece goes as it always did.
    assert (postprocess_labels(labels, VALUES)[2:10, 5:15, 20:26] == 0).all()


def test_without_a_tumour_each_label_keeps_its_largest_piece() -> None:
    labels = np.zeros((10, 10, 30), np.uint8)
    labels[2:8, 2:8, 2:12] = SACRUM.value
    labels[2:8, 2:8, 16:20] = SACRUM.value
    result = postprocess_labels(labels, VALUES)
    assert (result[2:8, 2:8, 2:12] == SACRUM.value).all() and (result[2:8, 2:8, 16:20] == 0).all()


def test_tumour_pieces_far_from_every_pelvic_bone_are_dropped_and_reported() -> None:
    labels = np.zeros((20, 30, 60), np.uint8)
    labels[5:15, 5:25, 0:10] = SACRUM.value
    labels[5:15, 5:25, 10:16] = TUMOR.value  # grows from the sacrum
    labels[16:18, 8:12, 2:6] = TUMOR.value  # a second piece 4 mm beside the sacrum: kept (for the largest-piece rule)
    labels[8:12, 10:15, 40:50] = TUMOR.value  # 31 voxels (62 mm) from any bone: an organ, dropped
    kept, dropped = drop_tumour_far_from_pelvis(labels, BONES, (2.0, 2.0, 2.0))
    assert (kept[5:15, 5:25, 10:16] == TUMOR.value).all() and (kept[16:18, 8:12, 2:6] == TUMOR.value).all()
    assert (kept[8:12, 10:15, 40:50] == 0).all()
    assert dropped == [4 * 5 * 10 * 8 / 1000]
    assert (kept[labels != TUMOR.value] == labels[labels != TUMOR.value]).all()  # bones untouched
    # The gap is measured in mm: at 0.5 mm voxels the same far piece lies 15.5 mm away, beyond 10 mm.
    assert drop_tumour_far_from_pelvis(labels, BONES, (0.5, 0.5, 0.5))[1] == [4 * 5 * 10 * 0.125 / 1000]
    assert drop_tumour_far_from_pelvis(labels, BONES, (0.3, 0.3, 0.3))[1] == []  # 9.3 mm: kept


def test_a_tumour_is_kept_when_no_bone_was_found_at_all() -> None:
    labels = np.zeros((10, 10, 10), np.uint8)
    labels[2:5, 2:5, 2:5] = TUMOR.value
    kept, dropped = drop_tumour_far_from_pelvis(labels, BONES, (2.0, 2.0, 2.0))
    assert dropped == [] and (kept == labels).all()


def test_the_dropped_tumour_note_counts_pieces_and_never_reads_zero_ml() -> None:
    from sacral_tumor_ai.ctseg.pipeline import _dropped_tumour_note

    assert "(2 pieces, 4.5 mL in all)" in _dropped_tumour_note([4.2, 0.3])
    assert "(1.2 mL)" in _dropped_tumour_note([1.2])
    assert "(3 pieces, under 0.1 mL in all)" in _dropped_tumour_note([0.008, 0.016, 0.016])


def test_tumour_pieces_the_model_is_unsure_of_are_dropped_and_reported() -> None:
    """A piece goes when its tumour probability stays under the level in every voxel; one sure voxel keeps
    the whole piece; bones are untouched."""
    labels = np.zeros((10, 20, 40), np.uint8)
    labels[2:8, 2:18, 0:6] = SACRUM.value
    labels[2:8, 2:12, 6:16] = TUMOR.value  # 600 voxels, sure at its centre only
    labels[2:4, 14:18, 20:24] = TUMOR.value  # 32 voxels, never above 0.8: dropped
    labels[6:8, 14:16, 30:31] = TUMOR.value  # 4 voxels at 0.85: dropped
    probability = np.where(labels == TUMOR.value, 0.6, 0.0).astype(np.float32)
    probability[5, 7, 11] = 0.99
    probability[2:4, 14:18, 20:24] = 0.8
    probability[6:8, 14:16, 30] = 0.85
    kept, dropped, largest_kept_ml = drop_unsure_tumour(labels, probability, 0.9, voxel_ml=0.008)
    assert largest_kept_ml == 600 * 0.008
    assert (kept[2:8, 2:12, 6:16] == TUMOR.value).all()
    assert (kept[2:4, 14:18, 20:24] == 0).all() and (kept[6:8, 14:16, 30] == 0).all()
    assert (kept[labels != TUMOR.value] == labels[labels != TUMOR.value]).all()
    assert dropped == [(32 * 0.008, np.float32(0.8)), (4 * 0.008, np.float32(0.85))]
    # At a level the surest piece does not reach, nothing is left; level 0 (no calibration) drops nothing.
    assert not (drop_unsure_tumour(labels, probability, 0.995, 0.008)[0] == TUMOR.value).any()
    same, none, _ = drop_unsure_tumour(labels, probability, 0.0, 0.008)
    assert same is labels and none == []
