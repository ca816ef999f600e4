"""CT is told from MR on the real scans and on the cases that fool naive checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.errors import ModalityError
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.modality import CT, MR, UNKNOWN, guess_modality, require_modality


def test_real_ct_is_ct(real_ct_path: Path) -> None:
    guess = guess_modality(read_image(real_ct_path))
    assert (guess.modality, guess.source) == (CT, "intensities")
    assert guess.evidence["share_air_-1100_-850"] > 0.1


def test_real_mr_is_mr(real_mr_path: Path) -> None:
    guess = guess_modality(read_image(real_mr_path))
    assert guess.modality == MR


def test_ct_cropped_inside_the_body_is_still_ct(real_ct_path: Path) -> None:
    ct = read_image(real_ct_path)
    # The middle of the pelvis: fat, muscle, bowel and bone, no outside air.
    inner = ct[40:80, 35:70, 10:50]
    assert guess_modality(inner).modality == CT


def test_normalised_mr_is_mr(real_mr_path: Path) -> None:
    mr = sitk.Cast(read_image(real_mr_path), sitk.sitkFloat32)
    array = sitk.GetArrayFromImage(mr)
    normalised = sitk.GetImageFromArray((array - array.mean()) / array.std())
    assert guess_modality(normalised).modality == MR


def test_require_modality_names_the_problem(real_mr_path: Path, real_ct_path: Path) -> None:
    with pytest.raises(ModalityError) as caught:
        require_modality(read_image(real_mr_path), CT, real_mr_path)
    assert "looks like MR" in str(caught.value) and "Hounsfield" in str(caught.value)
    assert require_modality(read_image(real_ct_path), CT).modality == CT
    with pytest.raises(ModalityError, match="looks like CT"):
        require_modality(read_image(real_ct_path), MR)


def test_dicom_tag_decides() -> None:
    image = sitk.GetImageFromArray(np.full((4, 4, 4), 500, np.int16))
    image.SetMetaData("0008|0060", "MR")
    assert guess_modality(image).source == "dicom"
    assert guess_modality(image).modality == MR


def test_ambiguous_intensities_are_unknown() -> None:
    rng = np.random.default_rng(1)
    # Signed values spread over hundreds with no soft-tissue peak: neither HU nor MR magnitude.
    image = sitk.GetImageFromArray(rng.uniform(-5000, 5000, (10, 10, 10)).astype(np.float32))
    assert guess_modality(image).modality == UNKNOWN
