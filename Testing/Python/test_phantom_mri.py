"""MRI rendering: relative tissue contrasts, per-sequence geometry, coarse labels, determinism, cohort layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, TUMOR
from sacral_tumor_ai.phantom.case import ScanSettings
from sacral_tumor_ai.phantom.classes import class_by_name
from sacral_tumor_ai.phantom.coarse import coarse_labels
from sacral_tumor_ai.phantom.mri_contrast import FAT, FLUID, MARROW, TUMOUR, lookup, study_signal
from sacral_tumor_ai.phantom.mri import generate_mri_case

SMALL = ScanSettings(size=(96, 96, 40), in_plane_mm=(3.0, 3.5), slice_mm=(3.0, 5.0))


@pytest.fixture(scope="module")
def case():
    return generate_mri_case(7, 3, SMALL, class_name="chordoma")


def _array(image: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(image).astype(np.float32)


def test_sequences_have_their_own_geometry(case):
    t2, t1, dwi, cet1 = (case.images[s] for s in ("t2", "t1", "dwi", "cet1"))
    assert t1.GetSize() == t2.GetSize() and t1.GetSpacing() == t2.GetSpacing()
    assert dwi.GetSpacing()[0] > 1.5 * t2.GetSpacing()[0]  # DWI is coarser
    assert case.labelmap.GetSize() == t2.GetSize()
    assert cet1.GetSize() == t2.GetSize()  # same grid, but the patient moved between acquisitions
    poses = case.details["sequences"]
    moved = np.abs(np.subtract(poses["cet1"]["pose_rotation"], poses["t2"]["pose_rotation"])).max()
    assert 0 < moved < np.sin(np.radians(3 * 3))
    assert 0 < np.abs(np.subtract(poses["cet1"]["pose_translation_mm"], poses["t2"]["pose_translation_mm"])).max() <= 4.0


def test_tumour_contrast_follows_the_sequence(case):
    labels = sitk.GetArrayFromImage(case.labelmap)
    tumour = labels == TUMOR.value
    assert tumour.sum() > 50
    body = _array(case.images["t2"]) > 50  # anything but air
    rest = body & (labels == 0)
    t1, t2 = _array(case.images["t1"]), _array(case.images["t2"])
    # Tumour: darker than the rest of the body on T1-w, brighter on T2-w (relative to each image's median).
    assert np.median(t1[tumour]) < np.median(t1[rest])
    assert np.median(t2[tumour]) > np.median(t2[rest])


def test_cet1_enhances_tumour_relative_to_t1():
    # Enhancing tumour is brighter than the typical body voxel on fat-suppressed CET1-w.
    case = generate_mri_case(7, 3, SMALL, class_name="giant_cell_tumor")
    tumour = sitk.GetArrayFromImage(case.labelmap) == TUMOR.value
    cet1 = _array(case.images["cet1"])
    assert np.median(cet1[tumour]) > np.median(cet1[cet1 > 30])


def test_tumour_t2_signal_depends_on_the_class():
    # Chordoma is markedly T2-bright, giant cell tumour low to intermediate (same seed and index).
    medians = {}
    for name in ("chordoma", "giant_cell_tumor"):
        study = generate_mri_case(7, 3, SMALL, class_name=name)
        tumour = sitk.GetArrayFromImage(study.labelmap) == TUMOR.value
        medians[name] = float(np.median(_array(study.images["t2"])[tumour]))
        low, high = class_by_name(name).t2_signal
        assert low <= study.details["tumour_signal"]["t2"] <= high
    assert medians["chordoma"] > 1.5 * medians["giant_cell_tumor"]


def test_fat_suppressed_t2_darkens_fat_only_on_t2():
    rng = np.random.default_rng(0)
    plain, suppressed = (study_signal(rng, class_by_name("metastasis"), fs) for fs in (False, True))
    tissue = np.array([FAT, MARROW, FLUID, TUMOUR], np.uint8)
    dark, bright = lookup(tissue, "t2", suppressed), lookup(tissue, "t2", plain)
    assert dark[0] < 0.2 < bright[0] and dark[1] < 0.2 < bright[1]  # fat and fatty marrow
    assert dark[2] == bright[2]  # fluid keeps its T2 signal
    assert lookup(tissue, "t1", suppressed)[0] == lookup(tissue, "t1", plain)[0] > 0.9  # T1-w untouched


def test_determinism_by_seed_and_index():
    a, b = generate_mri_case(11, 2, SMALL), generate_mri_case(11, 2, SMALL)
    assert a.clinical == b.clinical
    for sequence in a.images:
        assert np.array_equal(_array(a.images[sequence]), _array(b.images[sequence]))
    assert np.array_equal(sitk.GetArrayFromImage(a.labelmap), sitk.GetArrayFromImage(b.labelmap))


def test_coarse_labels_keep_the_largest_slice_and_five_either_side():
    labels = np.zeros((30, 8, 8), np.uint8)
    labels[:, :2, :2] = HIP_LEFT.value
    areas = [0] * 3 + [1, 2, 3, 4, 5, 6, 7, 8, 7, 6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 1] + [0] * 7
    for z, area in enumerate(areas):
        labels[z, 4, 8 - area if area else 8 :] = TUMOR.value if area else 0
    fine = sitk.GetImageFromArray(labels)
    coarse, slab = coarse_labels(fine, margin=5)
    kept = sitk.GetArrayFromImage(coarse)
    centre = int(np.argmax(areas))
    assert slab == (centre - 5, centre + 5)
    tumour_slices = np.flatnonzero((kept == TUMOR.value).any(axis=(1, 2)))
    assert tumour_slices.min() >= centre - 5 and tumour_slices.max() <= centre + 5
    assert (kept == HIP_LEFT.value).sum() == (labels == HIP_LEFT.value).sum()  # bones untouched
    assert np.array_equal(sitk.GetArrayFromImage(fine), labels)  # fine mask unchanged


def test_hip_left_on_patients_left_in_mri_labels():
    case = generate_mri_case(5, 0, ScanSettings(size=(80, 64, 40), in_plane_mm=(5.0, 5.0), slice_mm=(5.0, 5.0), max_rotation_degrees=0, max_shift_mm=0))
    labels = sitk.GetArrayFromImage(case.labelmap)
    xs = {v: np.flatnonzero(labels == v) for v in (HIP_LEFT.value, HIP_RIGHT.value)}
    if min(len(v) for v in xs.values()) == 0:
        pytest.skip("field of view missed a hip")
    x_left = np.mean([case.labelmap.TransformIndexToPhysicalPoint((int(i % 80), 0, 0))[0] for i in xs[HIP_LEFT.value][::50]])
    x_right = np.mean([case.labelmap.TransformIndexToPhysicalPoint((int(i % 80), 0, 0))[0] for i in xs[HIP_RIGHT.value][::50]])
    assert x_left > x_right  # LPS: patient's left is +x


def test_mri_cohort_layout(tmp_path):
    from sacral_tumor_ai.cli import main

    assert main(["cohort", "--modality", "mri", "--cases", "2", "--seed", "3", "--out", str(tmp_path), "--in-plane-mm", "3", "3.2", "--no-montage"]) == 0
    dataset = json.loads((tmp_path / "dataset.json").read_text())
    assert dataset["modality"] == "MRI" and dataset["sequences"] == ["t1", "t2", "dwi", "cet1"]
    datalist = json.loads((tmp_path / "datalist.json").read_text())
    items = [item for split in datalist.values() for item in split]
    assert len(items) == 2
    for item in items:
        assert set(item["image"]) == {"t1", "t2", "dwi", "cet1"}
        for path in [*item["image"].values(), item["label"], item["label_fine"]]:
            assert (tmp_path / path).is_file()
