"""The bundled CT model, as a user gets it: verified package, and it finds the demo case's lesion and bones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.cli import main
from sacral_tumor_ai.ctseg.postprocess import drop_tumour_far_from_pelvis
from sacral_tumor_ai.demo import bundled_model_path, demo_case_path, demo_ct_path
from sacral_tumor_ai.evaluation.segmentation_metrics import dice
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR
from sacral_tumor_ai.models.package import load_package


def test_package_is_small_verified_and_documented() -> None:
    package = load_package(bundled_model_path("ct-seg"))
    assert package.weights_path.stat().st_size < 50e6
    card = (package.folder / "MODEL_CARD.md").read_text()
    assert "Not for diagnosis" in card and package.metadata["weights"]["sha256"] in card
    assert package.metadata["output"]["labels"] == ["tumor", "hip_left", "hip_right", "sacrum"]
    # Decision offsets were chosen on validation cases, and the card says how (never on the test cases).
    inference = package.metadata["inference"]
    assert inference["calibration"]["split"] == "validation" and "## Decision calibration" in card
    assert set(inference["decision_offsets"]) == set(package.metadata["output"]["labels"])
    # So were the bone-edge thresholds, within the grid that spares real cortex (see calibrate_edges).
    from sacral_tumor_ai.evaluation.calibrate_edges import SHELL_GRID

    assert inference["bone_edges_calibration"]["split"] == "validation" and "## Bone-edge refinement" in card
    assert inference["bone_edges"]["shell_below_hu"] in SHELL_GRID and inference["bone_edges"]["shell_below_hu"] <= 300
    # And the tumour confidence level: under every validation tumour's peak, with the record to show it.
    confidence = inference["tumour_confidence_calibration"]
    assert confidence["split"] == "validation" and "## Tumour confidence" in card
    assert 0.5 < inference["tumour_min_probability"] < confidence["least_sure_tumour"]
    # The network (instance normalisation) runs on windows of the size it was trained on: at 96³ after
    # 64³ training patches, v0.13.1 and every earlier release drew a rim of muscle around each tumour.
    assert package.metadata["input"]["patch_size"] == package.metadata["training"]["config"]["train_patch_size"]
    assert "the training patches' size" in card


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["run", "--out", str(out)]) == 0
    return out


def test_main_job_on_the_demo_case(demo_run: Path) -> None:
    result = json.loads((demo_run / "result.json").read_text())
    labels = sitk.GetArrayFromImage(read_image(demo_run / "segmentation.nii.gz"))
    for label in (HIP_LEFT, HIP_RIGHT):
        assert result["volumes_ml"][label.name] > 100
    left = np.argwhere(labels == HIP_LEFT.value)[:, 2].mean()
    right = np.argwhere(labels == HIP_RIGHT.value)[:, 2].mean()
    assert left < right  # this scan is stored with direction diag(-1, -1, 1): the patient's left is low i


def test_demo_lesion_is_found(demo_run: Path) -> None:
    """The bundled model finds the demo's lesion in the real CT (v0.1.0, trained on generated anatomy alone,
    did not: tumour Dice 0.004 on inserted lesions)."""
    labels = sitk.GetArrayFromImage(read_image(demo_run / "segmentation.nii.gz"))
    truth = sitk.GetArrayFromImage(read_image(demo_case_path().with_name("demo_ct_lesion_tumor.nii.gz"))) == TUMOR.value
    assert dice(labels == TUMOR.value, truth) > 0.5


def test_the_real_ct_without_a_lesion_gets_no_tumour(tmp_path: Path) -> None:
    """On the real CT itself (no lesion inserted) the models have called soft tissue tumour: v0.4.2 4.2 mL in
    the abdomen, 113 mm from any bone (the far-tumour rule drops such pieces); v0.11.1 1.3 mL of the bladder
    beside the right hip bone, at a tumour probability of 0.86 at most. The calibrated level drops such
    pieces (v0.11.2 at 0.947; v0.11.3, v0.13.1 and v0.14.0, mirroring, draw them at 0.61, 0.71 and 0.54 at
    most, under their 0.723, 0.755 and 0.784): no tumour,
    and the user is told what was left out and why."""
    assert main(["run", str(demo_ct_path()), "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["volumes_ml"][TUMOR.name] == 0.0
    [unsure] = [warning for warning in result["warnings"] if "with too little confidence" in warning]
    level = load_package(bundled_model_path("ct-seg")).metadata["inference"]["tumour_min_probability"]
    assert float(unsure.split("reached ")[1].split(" at most")[0]) < level and f"calibrated {level:.2f}" in unsure
    assert any(warning.startswith("no tumour found by the model") for warning in result["warnings"])
    assert sum(warning.startswith("ignored what the model called tumour") for warning in result["warnings"]) <= 1
    # The scan's lowest slices hold a left hip prosthesis (about 11 mL above 2500 HU): the user is told.
    assert sum(warning.startswith("metal in the scan") for warning in result["warnings"]) == 1
    image = read_image(tmp_path / "segmentation.nii.gz")
    bones = (HIP_LEFT.value, HIP_RIGHT.value, SACRUM.value)
    _, far = drop_tumour_far_from_pelvis(sitk.GetArrayFromImage(image), bones, tuple(reversed(image.GetSpacing())))
    assert far == []
