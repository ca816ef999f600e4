"""Generator 1.7's hip prostheses: metal that is never labelled, streaks where a scanner makes them, none beside
the tumour, and cases without them unchanged."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR
from sacral_tumor_ai.phantom.case import ScanSettings, case_implants, case_patient, first_cases, generate_case
from sacral_tumor_ai.phantom.implants import METAL_HU, PREVALENCE

SMALL = ScanSettings(size=(110, 110, 60), in_plane_mm=(3.2, 3.4), slice_mm=(4.0, 4.5))
SEED = 21


def _first(with_prostheses: bool) -> int:
    """The first case of ``SEED`` with (or without) a hip prosthesis."""
    found = first_cases(SEED, 1, SMALL, with_prostheses, limit=200)
    assert found, "no such case in 200"
    return found[0]


def _arrays(index: int, implants: bool) -> tuple[np.ndarray, np.ndarray, dict]:
    """(HU, labels, details) of the case, with its prostheses or without; details carry the z-y-x spacing."""
    case = generate_case(SEED, index, replace(SMALL, implants=implants))
    details = {**case.details, "spacing_zyx": tuple(reversed(case.image.GetSpacing()))}
    return sitk.GetArrayFromImage(case.image).astype(np.float32), sitk.GetArrayFromImage(case.labelmap), details


@pytest.fixture(scope="module")
def with_and_without() -> tuple:
    index = _first(True)
    return _arrays(index, True), _arrays(index, False)


def test_prosthesis_metal_is_saturated_and_never_labelled(with_and_without: tuple) -> None:
    (hu, labels, details), (_, plain_labels, _) = with_and_without
    assert details["hip_prostheses"]
    metal = hu >= METAL_HU - 100
    assert metal.sum() > 50
    assert not labels[metal].any()  # metal is neither bone nor tumour
    # The reamed acetabulum lost hip bone; the sacrum and the tumour are the same voxels with or without it.
    sides = {"left": HIP_LEFT.value, "right": HIP_RIGHT.value}
    for side in details["hip_prostheses"]:
        assert (labels == sides[side]).sum() < (plain_labels == sides[side]).sum()
    for value in (SACRUM.value, TUMOR.value):
        assert np.array_equal(labels == value, plain_labels == value)


def test_streaks_cross_the_soft_tissue_of_metal_slices_only(with_and_without: tuple) -> None:
    (hu, _, details), (plain, plain_labels, _) = with_and_without
    metal = hu >= METAL_HU - 100
    # Soft tissue of the case without metal, over 15 mm from the metal: only streaks can change it there (both
    # versions share the scanner noise).
    far = (plain_labels == 0) & (plain > -200) & (plain < 200) & (ndimage.distance_transform_edt(~metal, sampling=details["spacing_zyx"]) > 15)
    change = np.abs(hu - plain)
    most_metal = int(np.argmax(metal.sum(axis=(1, 2))))
    assert np.percentile(change[most_metal][far[most_metal]], 99) > 10  # beyond the scanner noise's reach
    above = np.flatnonzero(metal.any(axis=(1, 2))).max() + 8  # over 30 mm above the metal: nothing changed
    assert above < len(hu) and np.array_equal(hu[above:], plain[above:])


def test_a_case_without_prostheses_is_what_it_was() -> None:
    index = _first(False)
    hu, labels, details = _arrays(index, True)
    plain, plain_labels, _ = _arrays(index, False)
    assert details["hip_prostheses"] == []
    assert np.array_equal(hu, plain) and np.array_equal(labels, plain_labels)


def test_prevalence_and_never_beside_the_tumour() -> None:
    count = both = 0
    for index in range(300):
        patient = case_patient(5, index, SMALL)
        implants, _ = case_implants(5, index, patient)
        count += bool(implants)
        both += len(implants) == 2
        for implant in implants:
            head = np.array(patient.pelvis.acetabulum) * np.array([implant.side, 1, 1])
            for *centre, radius in patient.tumour.lobes:  # every lobe stays 25 mm clear of the reamed cup
                assert np.linalg.norm(np.array(centre) - head) - radius - implant.cup_radius > 20
    assert 0.5 * PREVALENCE < count / 300 < 1.5 * PREVALENCE
    assert 0 < both < count


def test_a_prosthesis_only_cohort_keeps_each_case_as_in_the_full_cohort(tmp_path: Path) -> None:
    """``cohort --prostheses-only``: the cohort's first cases with a prosthesis, under their own case ids, so each
    is the patient it is in the full cohort; refused where no prosthesis can be made, nothing written."""
    import csv

    from sacral_tumor_ai.cli import main
    from sacral_tumor_ai.phantom.cohort import write_cohort

    dataset = write_cohort(tmp_path / "metal", 2, 5, settings=SMALL, montage=False, workers=1, log=lambda *_: None, prostheses_only=True)
    with (tmp_path / "metal" / "clinical.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [row["case_id"] for row in rows] == [f"case005_{index:05d}" for index in first_cases(5, 2, SMALL)]
    assert all(row["hip_prosthesis"] for row in rows)
    assert dataset["hip_prostheses"] == {"enabled": True, "cases": 2, "only": True}
    for number, flags in enumerate((["--no-prostheses"], ["--source", "real"], ["--modality", "mri"])):
        out = tmp_path / f"refused{number}"
        assert main(["cohort", "--cases", "1", "--out", str(out), "--prostheses-only", *flags]) == 2
        assert not out.exists()
