"""The data engine: labels consistent with anatomy, determinism by seed, class priors, lesion insertion."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from sacral_tumor_ai.cli import main
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, LABELS, SACRUM, TUMOR
from sacral_tumor_ai.phantom.case import ScanSettings, case_rng, generate_case
from sacral_tumor_ai.phantom.classes import CLASSES, class_by_name, sample_age, sample_class, sample_sex, sample_zone
from sacral_tumor_ai.phantom.cohort import stratified_splits
from sacral_tumor_ai.phantom.insert import insert_lesion

SMALL = ScanSettings(size=(100, 100, 50), in_plane_mm=(3.4, 3.6), slice_mm=(4.5, 5.0))


@pytest.fixture(scope="module")
def small_cases() -> list:
    return [generate_case(21, index, SMALL, class_name=tumour_class.name) for index, tumour_class in enumerate(CLASSES)]


def test_label_table_is_complete_and_left_is_left(small_cases: list) -> None:
    for case in small_cases:
        labels = sitk.GetArrayFromImage(case.labelmap)
        assert set(np.unique(labels)) <= {0} | {label.value for label in LABELS}
        for label in (HIP_LEFT, HIP_RIGHT, SACRUM):
            assert (labels == label.value).sum() > 100, (case.case_id, label.name)
        # Patient's left is +x in LPS (the image has an identity direction), -x in RAS.
        left_x = np.argwhere(labels == HIP_LEFT.value)[:, 2].mean()
        right_x = np.argwhere(labels == HIP_RIGHT.value)[:, 2].mean()
        assert left_x > right_x, case.case_id


def test_tumour_inside_the_body_and_touching_bone(small_cases: list) -> None:
    for case in small_cases:
        labels = sitk.GetArrayFromImage(case.labelmap)
        hu = sitk.GetArrayFromImage(case.image)
        tumour = labels == TUMOR.value
        assert tumour.sum() > 20, case.case_id
        assert np.mean(hu[tumour] > -300) > 0.95, case.case_id  # not air
        bone = np.isin(labels, (HIP_LEFT.value, HIP_RIGHT.value, SACRUM.value))
        assert (ndimage.binary_dilation(tumour, iterations=2) & bone).any(), case.case_id
        assert case.clinical["tumour_volume_ml"] == pytest.approx(tumour.sum() * np.prod(case.image.GetSpacing()) / 1000, rel=1e-3)


def test_the_sacroiliac_joints_are_open() -> None:
    # A joint space between the sacrum and each hip bone (3-4 mm; 1.0-1.2 mm voxels: at least one voxel of
    # something else between them), which the classical provider and a reader's eye rely on.
    for index in range(3):
        labels = sitk.GetArrayFromImage(generate_case(11, index, ScanSettings(in_plane_mm=(1.0, 1.2), slice_mm=(1.0, 1.2), max_rotation_degrees=0)).labelmap)
        near_sacrum = ndimage.binary_dilation(labels == SACRUM.value, iterations=1)
        assert not np.isin(labels[near_sacrum], (HIP_LEFT.value, HIP_RIGHT.value)).any()
        assert (ndimage.binary_dilation(labels == SACRUM.value, iterations=7) & np.isin(labels, (HIP_LEFT.value, HIP_RIGHT.value))).any()  # but the joint is there


def test_same_seed_same_case() -> None:
    a = generate_case(5, 2, SMALL)
    b = generate_case(5, 2, SMALL)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a.image), sitk.GetArrayFromImage(b.image))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a.labelmap), sitk.GetArrayFromImage(b.labelmap))
    assert a.clinical == b.clinical
    assert generate_case(5, 3, SMALL).clinical != a.clinical


def test_class_priors_hold_over_hundreds_of_cases() -> None:
    """Class, age, sex and zone are drawn as the table says (parameters only, no volumes rendered)."""
    n = 3000
    draws = []
    for index in range(n):
        rng = case_rng(77, index)
        tumour_class = sample_class(rng)
        draws.append((tumour_class.name, sample_sex(rng, tumour_class), sample_age(rng, tumour_class), sample_zone(rng, tumour_class)))
    counts = Counter(d[0] for d in draws)
    total = sum(c.prevalence for c in CLASSES)
    for tumour_class in CLASSES:
        expected = tumour_class.prevalence / total
        share = counts[tumour_class.name] / n
        assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / n), tumour_class.name
        members = [d for d in draws if d[0] == tumour_class.name]
        male = np.mean([d[1] == "M" for d in members])
        assert abs(male - tumour_class.male_share) < 0.1, tumour_class.name
        ages = np.array([d[2] for d in members])
        assert ages.min() >= tumour_class.age_range[0] and ages.max() <= tumour_class.age_range[1]
    # Age and location carry information: Ewing patients are young, chordomas sit in the sacrum.
    assert np.mean([d[2] for d in draws if d[0] == "ewing_sarcoma"]) < 25 < np.mean([d[2] for d in draws if d[0] == "metastasis"])
    assert np.mean([d[3] == "IV" for d in draws if d[0] == "chordoma"]) > 0.8
    assert np.mean([d[3] == "IV" for d in draws if d[0] == "chondrosarcoma"]) < 0.2


def test_splits_are_stratified_and_deterministic() -> None:
    classes = [c.name for c in CLASSES for _ in range(20)]
    splits = stratified_splits(classes, 3)
    assert splits == stratified_splits(classes, 3)
    for name in {c.name for c in CLASSES}:
        mine = Counter(s for s, c in zip(splits, classes) if c == name)
        assert mine == {"training": 14, "validation": 3, "test": 3}


def test_lesion_insertion_into_the_real_ct(real_ct_path: Path) -> None:
    ct = read_image(real_ct_path)
    image, labels, info = insert_lesion(ct, class_by_name("chordoma"), np.random.default_rng(4))
    assert image.GetSize() == ct.GetSize() and image.GetDirection() == ct.GetDirection() and image.GetOrigin() == ct.GetOrigin()
    mask = sitk.GetArrayFromImage(labels) == TUMOR.value
    before, after = sitk.GetArrayFromImage(ct), sitk.GetArrayFromImage(image)
    assert mask.sum() * 27 / 1000 == pytest.approx(info["volume_ml"], rel=1e-3)
    changed = before != after
    assert changed[mask].mean() > 0.9  # the lesion replaced what was there
    assert not changed[~ndimage.binary_dilation(mask, iterations=2)].any()  # and nothing far from it
    assert (before[ndimage.binary_dilation(mask, iterations=1)] > 200).any()  # it sits in bone


def test_cohort_command_writes_the_documented_layout(tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    assert main(["cohort", "--cases", "3", "--seed", "9", "--out", str(out), "--in-plane-mm", "3.4", "3.6", "--slice-mm", "4.5", "5"]) == 0
    dataset = json.loads((out / "dataset.json").read_text())
    assert dataset["cases"] == 3 and len(dataset["classes"]) == 6
    datalist = json.loads((out / "datalist.json").read_text())
    items = [item for split in datalist.values() for item in split]
    assert len(items) == 3 and all((out / item["image"]).is_file() and (out / item["label"]).is_file() for item in items)
    with (out / "clinical.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [row["case_id"] for row in rows] == [f"case009_{i:05d}" for i in range(3)]
    assert all(row["hip_prosthesis"] in ("", "left", "right", "left+right") for row in rows)
    assert dataset["hip_prostheses"] == {"enabled": True, "cases": sum(bool(row["hip_prosthesis"]) for row in rows), "only": False}
    assert len(list((out / "montages").glob("*.png"))) == 3
