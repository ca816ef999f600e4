"""Generated CT marrow: fattier with age; in the femur dense in the head, fatty in the neck and trochanters (the
real CT's proximal femur reads about 40 HU there) and yellow in the shaft."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from sacral_tumor_ai.phantom.anatomy import Pelvis
from sacral_tumor_ai.phantom.case import Patient, ScanSettings, case_rng, sample_patient
from sacral_tumor_ai.phantom.ct import Fields, compute_fields, render
from sacral_tumor_ai.phantom.grid import Grid
from sacral_tumor_ai.phantom.pose import Pose


@pytest.mark.parametrize("seed", [0, 1])
def test_femoral_heads_are_dense_necks_fatty_and_shafts_yellow_marrow_in_thick_cortex(seed: int) -> None:
    # 2 mm voxels, from the iliac crest down into the femoral shafts.
    _, fields, hu = _rendered(seed, 0, lambda _: Grid.around((200, 150, 200), (2.0, 2.0, 2.0), (0.0, 0.0, -60.0)))
    shaft = fields.femoral_region < -0.99
    pelvic_marrow = np.median(hu[(fields.hip_left < -5) | (fields.hip_right < -5)])
    head_marrow = np.median(hu[(fields.femora < -8) & (fields.femoral_region > 0.99)])
    neck_marrow = np.median(hu[(fields.femora < -8) & (fields.femoral_region == 0)])
    shaft_marrow = np.median(hu[(fields.femora < -8) & shaft])
    shaft_cortex = np.median(hu[(fields.femora < -1.5) & (fields.femora > -2.5) & shaft])
    assert 40 <= pelvic_marrow <= 400
    # A model trained on fatty heads (generator 1.5) called the real CT's dense femoral heads hip bone.
    assert head_marrow > pelvic_marrow
    assert neck_marrow < pelvic_marrow - 20
    assert shaft_marrow < 20  # yellow marrow: fat with a little water
    # 2 mm under the surface of the shaft is still cortex (3-6 mm thick); the pelvic cortex is at most 1.4 mm.
    assert shaft_cortex > 900


def test_pelvic_marrow_darkens_with_age() -> None:
    young, old = [], []
    for index in range(40):
        patient, fields, hu = _rendered(7, index, lambda pelvis: Grid.around((40, 40, 40), (2.0, 2.0, 2.0), tuple(pelvis.acetabulum)))
        deep = (fields.hip_left < -4) & (fields.femora > 0)
        if deep.sum() < 20:
            continue
        (young if patient.age < 45 else old).append(float(np.median(hu[deep])))
    assert len(young) >= 5 and len(old) >= 5
    assert np.mean(old) < np.mean(young) - 30


def _rendered(seed: int, index: int, grid_of: Callable[[Pelvis], Grid]) -> tuple[Patient, Fields, np.ndarray]:
    """Patient ``index`` of cohort ``seed`` rendered without a tumour, in the identity pose, on ``grid_of`` its pelvis."""
    rng = case_rng(seed, index)
    patient = sample_patient(rng, ScanSettings())
    grid = grid_of(patient.pelvis)
    fields = compute_fields(grid, Pose.identity(), patient.pelvis, patient.body, None, rng)
    hu, _ = render(fields, None, rng, patient.age, grid.spacing, 10.0)
    return patient, fields, hu
