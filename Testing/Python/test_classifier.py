"""The tumour classifier on toy cases: inputs checked, training (resume, torchrun), calibrated prediction,
packages that refuse a class list not matching the weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.classify.predict import Classifier
from sacral_tumor_ai.classify.scalars import DEFAULT_SCALARS, ClinicalInputError, clinical_value
from sacral_tumor_ai.classify.train import ClsTrainingConfig, train_classifier
from sacral_tumor_ai.hipframe import describe_location
from sacral_tumor_ai.models.package import ModelPackageError, load_package
from sacral_tumor_ai.training.checkpoint import load_checkpoint
from toy_ct import TINY_CLASSIFIER, TOY_CLASSES, add_toy_clinical, toy_case, write_toy_datalist

CLASSES = TOY_CLASSES
TINY = TINY_CLASSIFIER


@pytest.fixture(scope="module")
def datalist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return add_toy_clinical(write_toy_datalist(tmp_path_factory.mktemp("cls"), counts=(9, 6, 3)))


def _sex() -> dict:
    return next(spec for spec in DEFAULT_SCALARS if spec["name"] == "sex")


def _age() -> dict:
    return next(spec for spec in DEFAULT_SCALARS if spec["name"] == "age")


def test_clinical_values_are_checked() -> None:
    assert clinical_value(_sex(), "female") == 0.0 and clinical_value(_sex(), "M") == 1.0
    assert clinical_value(_age(), None) is None and clinical_value(_age(), "") is None
    with pytest.raises(ClinicalInputError, match="age -3 years is outside the plausible range 0-110"):
        clinical_value(_age(), -3)
    with pytest.raises(ClinicalInputError, match="outside"):
        clinical_value(_age(), 250)
    with pytest.raises(ClinicalInputError, match="sex 'X' is not a known code; use one of F, M"):
        clinical_value(_sex(), "X")


@pytest.mark.slow
def test_trains_resumes_and_classifies(datalist: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    package = load_package(train_classifier(ClsTrainingConfig(datalist=str(datalist), out=str(out), epochs=2, **TINY), log=lambda *_: None))
    assert package.metadata["classes"] == CLASSES and package.metadata["task"] == "classification"
    assert 0.05 <= package.metadata["temperature"] <= 20
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 1
    train_classifier(ClsTrainingConfig(datalist=str(datalist), out=str(out), epochs=3, **TINY), resume=True, log=lambda *_: None)
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 2

    classifier = Classifier(load_package(out / "model"))
    image, labels = toy_case(40)
    location = describe_location(labels)
    result = classifier.classify(image, labels, {"age": 47, "sex": "female"}, location)
    assert set(result["probabilities"]) == set(CLASSES)
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert result["clinical_used"] == {"age": 47.0, "sex": "F"}
    ranked = [result["probabilities"][name] for name in result["ranking"]]
    assert ranked == sorted(ranked, reverse=True) and set(result["ranking"]) == set(CLASSES)

    unusual = classifier.classify(image, labels, {"age": 95, "sex": None}, {"available": False, "reason": "no hip bones"})
    assert any("outside the training range" in w for w in unusual["warnings"])
    assert any("location" in w and "unavailable" in w for w in unusual["warnings"])
    assert any("Not given: sex" in w for w in unusual["warnings"])
    with pytest.raises(ClinicalInputError):
        classifier.classify(image, labels, {"age": 250}, location)
    empty = sitk.Image(labels.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(labels)
    with pytest.raises(Exception, match="no tumour"):
        classifier.classify(image, empty, {"age": 50}, location)


@pytest.mark.slow
def test_class_list_not_matching_the_weights_is_refused(datalist: Path, tmp_path: Path) -> None:
    folder = train_classifier(ClsTrainingConfig(datalist=str(datalist), out=str(tmp_path / "run"), epochs=1, **TINY), log=lambda *_: None)
    metadata = json.loads((folder / "model.json").read_text())
    metadata["classes"] = metadata["classes"] + ["osteosarcoma"]
    (folder / "model.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelPackageError, match="lists 4 classes but the weights have 3 outputs"):
        Classifier(load_package(folder))


@pytest.mark.slow
def test_two_processes_with_torchrun(datalist: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**TINY, "epochs": 1}))
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "sacral_tumor_ai",
         "train-cls", "--datalist", str(datalist), "--out", str(tmp_path / "ddp"), "--config", str(config)],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "ddp" / "model" / "model.json").is_file()


@pytest.mark.slow
def test_evaluate_and_compare_commands(datalist: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from sacral_tumor_ai.cli import main

    model = train_classifier(ClsTrainingConfig(datalist=str(datalist), out=str(tmp_path / "run"), epochs=1, **TINY), log=lambda *_: None)
    assert main(["evaluate-cls", "--model", str(model), "--datalist", str(datalist), "--split", "validation", "--out", str(tmp_path / "eval"), "--bootstrap", "100"]) == 0
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert report["cases"] == 6 and set(report["per_class"]) == set(CLASSES)
    assert (tmp_path / "eval" / "confusion.png").stat().st_size > 1000 and (tmp_path / "eval" / "roc.png").stat().st_size > 1000
    # A reader's single calls, compared with the model on the same cases.
    rows = (tmp_path / "eval" / "predictions.csv").read_text().splitlines()[1:]
    reads = ["case_id,predicted"] + [f"{row.split(',')[0]},{row.split(',')[1]}" for row in rows[:4]] + [f"{row.split(',')[0]},metastasis" for row in rows[4:]]
    (tmp_path / "reader.csv").write_text("\n".join(reads) + "\n")
    assert main(["compare-cls", str(tmp_path / "eval" / "predictions.csv"), str(tmp_path / "reader.csv"), "--model", str(model), "--out", str(tmp_path / "cmp"), "--bootstrap", "100"]) == 0
    comparison = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert comparison["cases"] == 6 and set(comparison["per_class_delong"]) <= set(CLASSES)
    assert "DeLong" in capsys.readouterr().out


def test_cases_without_a_tumour_are_left_out_and_named(datalist: Path, tmp_path: Path) -> None:
    from sacral_tumor_ai.classify.cases import prepare_cases
    from sacral_tumor_ai.classify.crop import CropSpec
    from sacral_tumor_ai.labels import TUMOR
    from sacral_tumor_ai.training.datalist import load_datalist

    items = load_datalist(datalist, "test")
    labels = sitk.ReadImage(items[0]["label"])
    array = sitk.GetArrayFromImage(labels)
    array[array == TUMOR.value] = 0
    empty = sitk.GetImageFromArray(array)
    empty.CopyInformation(labels)
    sitk.WriteImage(empty, str(tmp_path / "empty.nii.gz"))
    items[0] = {**items[0], "label": str(tmp_path / "empty.nii.gz")}
    messages: list[str] = []
    cases = prepare_cases(items, CropSpec((16, 16, 8)), tmp_path / "cache", messages.append)
    assert [c["case_id"] for c in cases] == [item["case_id"] for item in items[1:]]
    assert messages == [f"left out 1 case(s) whose label has no tumour: {items[0]['case_id']}"]


def test_a_tumour_touching_the_scan_edge_is_padded_and_flagged() -> None:
    from sacral_tumor_ai.classify.crop import CropSpec, tumour_crop
    from sacral_tumor_ai.labels import TUMOR

    image, labels = toy_case(3)
    tumour_x = np.argwhere(sitk.GetArrayViewFromImage(labels) == TUMOR.value)[:, 2]
    cut = int(tumour_x.mean())  # keep the half of the scan that ends inside the tumour
    start = 0 if cut > labels.GetWidth() / 2 else cut
    size = [cut if start == 0 else labels.GetWidth() - cut, labels.GetHeight(), labels.GetDepth()]
    crop = tumour_crop(sitk.RegionOfInterest(image, size, [start, 0, 0]), sitk.RegionOfInterest(labels, size, [start, 0, 0]), CropSpec((16, 16, 8)))
    assert crop.array.shape == (2, 8, 16, 16)
    assert len(crop.warnings) == 1 and "touches the" in crop.warnings[0] and "padded with air" in crop.warnings[0]
    assert crop.array[0].min() == 0.0  # air (below the window) where the scan ends


def test_clinical_location_classifier_needs_no_image(datalist: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    package = load_package(train_classifier(ClsTrainingConfig(datalist=str(datalist), out=str(out), epochs=1, inputs="clinical+location", **TINY), log=lambda *_: None))
    assert package.metadata["modality"] == "any" and package.metadata["architecture"]["params"]["image"] is False
    classifier = Classifier(package)
    assert not classifier.needs_image
    image, labels = toy_case(40)
    location = describe_location(labels)
    mr_like = sitk.Abs(sitk.Cast(image, sitk.sitkFloat32))  # any intensities: the image is not read
    first = classifier.classify(image, labels, {"age": 47, "sex": "F"}, location)
    second = classifier.classify(mr_like, labels, {"age": 47, "sex": "F"}, location)
    assert first["probabilities"] == second["probabilities"] and "image" not in first["inputs"]
    assert sum(first["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    older = classifier.classify(image, labels, {"age": 80, "sex": "F"}, location)
    assert older["probabilities"] != first["probabilities"]  # the form's values reach the network


def test_the_crop_reads_only_the_region_under_its_box_with_the_same_result() -> None:
    """The classifier's crop resamples the part of the scan its box reaches (memory on big scans); that part
    gives exactly what the whole scan gives, for an oblique box partly outside the scan too."""
    import SimpleITK as sitk

    from sacral_tumor_ai.classify.crop import _region_under
    from toy_ct import toy_case

    image, _ = toy_case(3)
    image = sitk.Cast(image, sitk.sitkFloat32)
    angle = np.radians(25.0)
    axes = np.array([[np.cos(angle), np.sin(angle), 0.0], [-np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    for origin in ((40.0, 50.0, 30.0), (-20.0, 60.0, 10.0)):  # inside; reaching over the scan's edge
        reference = sitk.Image([20, 18, 12], sitk.sitkFloat32)
        reference.SetSpacing((2.5, 3.0, 4.0))
        reference.SetDirection(axes.T.flatten().tolist())
        reference.SetOrigin(origin)
        whole = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, -1024.0)
        part = _region_under(image, reference)
        assert np.prod(part.GetSize()) < np.prod(image.GetSize())
        np.testing.assert_array_equal(
            sitk.GetArrayFromImage(sitk.Resample(part, reference, sitk.Transform(), sitk.sitkLinear, -1024.0)), sitk.GetArrayFromImage(whole)
        )
