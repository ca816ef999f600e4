"""Seed 1's post-processing: one tumour, one of each bone (with the pieces its tumour joins), holes filled."""

from __future__ import annotations

import numpy as np

from sacral_tumor_ai.ctseg.postprocess import postprocess_labels
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR

VALUES = [0, TUMOR.value, HIP_LEFT.value, HIP_RIGHT.value, SACRUM.value]


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
