"""``sacral-tumor-ai run`` on MRI with the bundled models: one sequence (All-sequence), T2-w + CET1-w
(T2-fusion), location and classification on MRI, and bad input (a CT as MRI, an MRI without the pelvis,
T2-fusion without CET1-w, 8 mm slices, a 4D DWI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.cli import main
from sacral_tumor_ai.evaluation.segmentation_metrics import dice
from sacral_tumor_ai.io import write_image
from sacral_tumor_ai.labels import HIP_LEFT, TUMOR
from conftest import write_4d_dwi


def _run(tmp_path: Path, *arguments: str) -> dict:
    out = tmp_path / "out"
    assert main(["run", *arguments, "--out", str(out)]) == 0
    return json.loads((out / "result.json").read_text())


def _tumour_dice(out: Path, label: Path) -> float:
    prediction = sitk.ReadImage(str(out / "segmentation.nii.gz"))
    truth = sitk.ReadImage(str(label))
    assert prediction.GetSize() == truth.GetSize() and np.allclose(prediction.GetOrigin(), truth.GetOrigin())
    return dice(sitk.GetArrayFromImage(prediction) == TUMOR.value, sitk.GetArrayFromImage(truth) == TUMOR.value)


def test_one_sequence_is_segmented_located_and_classified(mri_study: dict[str, Path], tmp_path: Path) -> None:
    # DWI: the sequence on which the bundled All-sequence model is most accurate (see its model card).
    result = _run(tmp_path, str(mri_study["dwi"]), "--modality", "dwi", "--age", "61", "--sex", "M")
    assert result["segmentation"]["mri"]["model"] == "all-sequence" and result["labels"]["tumor"] == TUMOR.value
    assert result["models"]["segmentation"]["name"] == "sacral-mri-allseq"
    assert _tumour_dice(tmp_path / "out", mri_study["label_dwi"]) > 0.5
    assert result["location"]["available"], result["location"]
    classification = result["classification"]
    assert classification["available"] and "image" not in classification["inputs"]
    assert sum(classification["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert (tmp_path / "out" / "segmentation.seg.nrrd").is_file() and (tmp_path / "out" / "preview.png").is_file()


def test_t2_and_cet1_use_the_fusion_model(mri_study: dict[str, Path], tmp_path: Path) -> None:
    result = _run(tmp_path, "--t2", str(mri_study["t2"]), "--cet1", str(mri_study["cet1"]), "--t1", str(mri_study["t1"]))
    mri = result["segmentation"]["mri"]
    assert mri["model"] == "t2-fusion" and mri["reference"] == "t2" and mri["registration"]["cet1"]["mode"] == "affine"
    assert any("T1-w not used" in w for w in result["warnings"])
    assert _tumour_dice(tmp_path / "out", mri_study["label_t2"]) > 0.5


def test_cet1_with_another_orientation_and_field_of_view(mri_study: dict[str, Path], tmp_path: Path) -> None:
    cet1 = sitk.DICOMOrient(sitk.ReadImage(str(mri_study["cet1"])), "RAI")  # axes flipped: same anatomy, other array order
    size = cet1.GetSize()
    cropped = cet1[20 : size[0] - 20, 10 : size[1] - 30, 2 : size[2] - 2]  # a smaller field of view
    path = write_image(cropped, tmp_path / "cet1_rai.nrrd")
    result = _run(tmp_path, "--t2", str(mri_study["t2"]), "--cet1", str(path))
    assert result["segmentation"]["mri"]["model"] == "t2-fusion"
    assert _tumour_dice(tmp_path / "out", mri_study["label_t2"]) > 0.5


def test_fusion_without_cet1_falls_back_and_says_so(mri_study: dict[str, Path], tmp_path: Path) -> None:
    result = _run(tmp_path, "--t2", str(mri_study["t2"]), "--mri-model", "t2-fusion")
    assert result["segmentation"]["mri"]["model"] == "all-sequence"
    assert any("CET1-w is missing" in w for w in result["warnings"])
    assert result["volumes_ml"][HIP_LEFT.name] > 20 and result["location"]["available"]  # bones on T2-w alone


def test_a_ct_given_as_mri_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from sacral_tumor_ai.demo import demo_case_path

    assert main(["run", str(demo_case_path()), "--modality", "t2", "--out", str(tmp_path / "out")]) == 2
    assert "looks like CT" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_mri_without_the_pelvis_gives_a_clear_message(real_mr_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # The TotalSegmentator MR example shows the upper abdomen (liver, kidneys): no hip bones to find.
    assert main(["run", str(real_mr_path), "--modality", "t1", "--out", str(tmp_path / "out")]) == 2
    assert "no pelvis in the field of view" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_inputs_must_say_what_they_are(mri_study: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", str(mri_study["t1"]), "--t2", str(mri_study["t2"]), "--out", str(tmp_path / "out")]) == 2
    assert "--modality" in capsys.readouterr().err
    assert main(["run", "--modality", "t2", "--out", str(tmp_path / "out")]) == 2


def test_thick_slices_are_segmented_with_a_warning(mri_study: dict[str, Path], tmp_path: Path) -> None:
    t2 = sitk.ReadImage(str(mri_study["t2"]))
    size = list(t2.GetSize())
    thick = sitk.Resample(t2, [size[0], size[1], int(size[2] * t2.GetSpacing()[2] / 8.0)], sitk.Transform(), sitk.sitkLinear, t2.GetOrigin(), (*t2.GetSpacing()[:2], 8.0), t2.GetDirection(), 0, t2.GetPixelID())
    path = write_image(thick, tmp_path / "t2_8mm.nii.gz")
    result = _run(tmp_path, "--t2", str(path))
    assert any("8.0 mm slices" in w for w in result["warnings"])
    assert result["volumes_ml"][HIP_LEFT.name] > 20


def test_a_4d_dwi_uses_its_b1000_volume(mri_study: dict[str, Path], tmp_path: Path) -> None:
    path = write_4d_dwi(mri_study, tmp_path / "dwi4d.nii.gz")
    result = _run(tmp_path, "--dwi", str(path))
    assert result["segmentation"]["mri"]["model"] == "all-sequence" and result["segmentation"]["mri"]["reference"] == "dwi"
    assert any("using b = 1000 (of b = 0, 1000)" in w for w in result["warnings"])
