"""MRI core pieces: model spec, model grid, normalisation, 2.5D stacking, model choice, 4D DWI, registration,
the coarse-label loss and the left-right flip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, TUMOR
from sacral_tumor_ai.mriseg.inputs import choose_b_volume, read_dwi
from sacral_tumor_ai.mriseg.plan import ALL_SEQUENCE, T2_FUSION, plan_mri
from sacral_tumor_ai.mriseg.context import stack_context
from sacral_tumor_ai.mriseg.prepare import mri_grid, normalise
from sacral_tumor_ai.mriseg.spec import MriModelSpec

from conftest import write_dwi_series


def _volume(size=(40, 36, 12), spacing=(1.0, 1.0, 4.0), direction=None) -> sitk.Image:
    image = sitk.GetImageFromArray(np.random.default_rng(0).uniform(0, 500, size[::-1]).astype(np.float32))
    image.SetSpacing(spacing)
    if direction is not None:
        image.SetDirection(direction)
    return image


def test_spec_round_trips_through_metadata_and_counts_channels():
    fusion = MriModelSpec(("t2", "cet1"), context=1)
    assert fusion.in_channels == 6 and fusion.is_fusion
    assert MriModelSpec(context=0).in_channels == 1
    again = MriModelSpec.from_metadata({"name": "x", **fusion.to_metadata()})
    assert again == fusion
    assert fusion.to_metadata()["mri"]["channel_order"] == ["t2[z-1]", "t2[z+0]", "t2[z+1]", "cet1[z-1]", "cet1[z+0]", "cet1[z+1]"]
    with pytest.raises(SacralTumorAIError):
        MriModelSpec(("flair",))
    with pytest.raises(SacralTumorAIError, match="not an MRI"):
        MriModelSpec.from_metadata({"name": "ct-model"})


def test_grid_keeps_slice_thickness_and_warns_outside_training_range():
    spec = MriModelSpec()
    grid = mri_grid(_volume(), spec)
    assert grid.grid.GetSpacing() == pytest.approx((1.5, 1.5, 4.0)) and not grid.warnings
    thick = mri_grid(_volume(spacing=(1.0, 1.0, 8.0)), spec, "T2-w")
    assert thick.grid.GetSpacing()[2] == pytest.approx(8.0)
    assert any("8.0 mm slices" in w for w in thick.warnings)
    thin = mri_grid(_volume(spacing=(1.0, 1.0, 1.0)), spec)
    assert thin.grid.GetSpacing()[2] == pytest.approx(spec.slice_mm[0])  # raised to the training minimum
    sagittal = mri_grid(_volume(direction=(0, 0, 1, 1, 0, 0, 0, 1, 0)), spec)  # slice axis along left-right
    assert any("not an axial" in w for w in sagittal.warnings)


def test_normalisation_ignores_the_scanners_arbitrary_scale():
    volume = np.random.default_rng(1).gamma(2.0, 100.0, (6, 20, 20)).astype(np.float32)
    volume[:, :4] = 0  # air
    assert np.allclose(normalise(volume), normalise(volume * 7.3), atol=1e-5)
    body = normalise(volume)[volume > 0.1 * np.percentile(volume, 99)]
    assert abs(float(body.mean())) < 0.1


def test_stack_context_takes_neighbours_and_repeats_edges():
    a = np.arange(4, dtype=np.float32)[:, None, None] * np.ones((4, 2, 2), np.float32)
    b = a + 10
    stacked = stack_context([a, b], 1)
    assert stacked.shape == (4, 6, 2, 2)
    assert stacked[0, :, 0, 0].tolist() == [0, 0, 1, 10, 10, 11]
    assert stacked[3, :, 0, 0].tolist() == [2, 3, 3, 12, 13, 13]
    assert stack_context([a], 0, np.array([2]))[:, :, 0, 0].tolist() == [[2]]


def test_plan_prefers_fusion_and_says_why_it_falls_back():
    assert plan_mri(["t2", "cet1", "t1"], True).model == T2_FUSION
    fallback = plan_mri(["t2"], True, "t2-fusion")
    assert fallback.model == ALL_SEQUENCE and fallback.sequences == ("t2",)
    assert "CET1-w is missing" in fallback.notes[0]
    assert plan_mri(["t2", "cet1"], False).model == ALL_SEQUENCE  # no fusion model installed
    best = plan_mri(["t1", "dwi"], True)
    assert best.sequences == ("dwi",) and best.notes
    assert plan_mri(["t1", "dwi", "t2"], True, ensemble=True).sequences == ("t2", "dwi", "t1")
    with pytest.raises(SacralTumorAIError, match="unknown MRI sequence"):
        plan_mri(["flair"], True)


def test_b_value_choice():
    assert choose_b_volume([0, 500, 1000, 1500], 4)[0] == 2
    index, note = choose_b_volume([0, 800], 2)
    assert index == 1 and "highest" in note
    assert choose_b_volume(None, 3)[0] == 2
    with pytest.raises(SacralTumorAIError):
        choose_b_volume([0, 1000], 3)


def test_4d_dwi_reads_the_b1000_volume(tmp_path):
    volumes = np.stack([np.full((5, 6, 7), value, np.float32) for value in (100, 60, 30)])  # b = 0, 1000, 2000
    image = sitk.JoinSeries([sitk.GetImageFromArray(v) for v in volumes])
    path = tmp_path / "dwi.nii.gz"
    sitk.WriteImage(image, str(path))
    (tmp_path / "dwi.bval").write_text("0 1000 2000\n")
    chosen, note = read_dwi(path)
    assert chosen.GetDimension() == 3 and float(sitk.GetArrayViewFromImage(chosen).mean()) == 60
    assert "b = 1000" in note
    (tmp_path / "dwi.bval").unlink()
    assert float(sitk.GetArrayFromImage(read_dwi(path)[0]).mean()) == 30  # last volume, said so


def test_registration_recovers_a_known_rigid_motion():
    from sacral_tumor_ai.mriseg.registration import register
    from sacral_tumor_ai.phantom.case import ScanSettings
    from sacral_tumor_ai.phantom.mri import generate_mri_case

    case = generate_mri_case(4, 1, ScanSettings(size=(96, 96, 40), in_plane_mm=(3.0, 3.0), slice_mm=(4.0, 4.0)))
    fixed, labels = case.images["t2"], case.labelmap
    motion = sitk.Euler3DTransform(fixed.TransformContinuousIndexToPhysicalPoint([47.5, 47.5, 19.5]), 0.0, 0.0, np.radians(5.0), (6.0, -4.0, 3.0))
    moving = sitk.Resample(fixed, fixed, motion, sitk.sitkLinear, 0.0)
    moved_labels = sitk.Resample(labels, labels, motion, sitk.sitkNearestNeighbor, 0)

    def bone_dice(a: sitk.Image) -> float:
        x, y = sitk.GetArrayViewFromImage(a) == HIP_LEFT.value, sitk.GetArrayViewFromImage(labels) == HIP_LEFT.value
        return 2 * float((x & y).sum()) / float(x.sum() + y.sum())

    registered = register(fixed, moving, "affine", registration_mm=3.0)
    before, after = bone_dice(moved_labels), bone_dice(registered.resample(moved_labels, fixed, labels=True))
    assert after > before + 0.1 and after > 0.8, (before, after)
    with pytest.raises(SacralTumorAIError):
        register(fixed, moving, "elastic")


def test_coarse_label_loss_never_calls_unlabelled_tumour_a_miss():
    import torch

    from sacral_tumor_ai.training.mri_loss import coarse_label_loss

    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[0, :, :2] = HIP_LEFT.value
    logits = torch.full((1, 5, 8, 8), -4.0)
    logits[0, 0] = 4.0
    logits[0, HIP_LEFT.value, :, :2], logits[0, 0, :, :2] = 4.0, -4.0
    says_tumour = logits.clone()
    says_tumour[0, TUMOR.value, 4:, 4:], says_tumour[0, 0, 4:, 4:] = 4.0, -4.0  # tumour where the label says 0
    unknown = torch.zeros(1, 8, 8, dtype=torch.bool)
    known = torch.ones(1, 8, 8, dtype=torch.bool)
    # Where the tumour was not drawn, "background" may be tumour: predicting tumour there costs (almost) nothing...
    assert coarse_label_loss(says_tumour, target, unknown) < coarse_label_loss(logits, target, unknown) + 0.05
    # ...where it was drawn, it is an error.
    assert coarse_label_loss(says_tumour, target, known) > coarse_label_loss(logits, target, known) + 0.1
    # Bone labels are exact on every slice.
    no_bone = logits.clone()
    no_bone[0, HIP_LEFT.value, :, :2], no_bone[0, 0, :, :2] = -4.0, 4.0
    assert coarse_label_loss(no_bone, target, unknown) > coarse_label_loss(logits, target, unknown) + 0.1


def test_known_mask_is_the_drawn_slab_plus_everything_outside_the_tumours_footprint():
    from sacral_tumor_ai.training.mri_data import known_mask

    labels = np.zeros((20, 40, 40), np.uint8)
    labels[8:13, 10:20, 10:20] = TUMOR.value  # drawn on slices 8-12
    labels[:, 30:34, 2:6] = HIP_LEFT.value
    image = sitk.GetImageFromArray(labels)
    image.SetSpacing((2.0, 2.0, 3.0))
    known = sitk.GetArrayFromImage(known_mask(image, [8, 12], margin_mm=10.0)).astype(bool)
    assert known[8:13].all()  # the drawn slices: complete
    # Off them, the tumour may continue within 10 mm (5 pixels) of its footprint: unknown there...
    assert not known[0, 5:25, 15].any() and not known[0, 15, 5:25].any() and not known[19, 15, 24]
    # ...and known background farther out (the bladder, fat and bone where a stray "tumour" would be free).
    assert known[0, 15, 26] and known[19, 35, 35] and known[3, 32, 4]
    assert known_mask(image, [8, 12], margin_mm=None).GetSize() == image.GetSize()
    assert not sitk.GetArrayFromImage(known_mask(image, [8, 12], margin_mm=None))[0].any()
    assert not sitk.GetArrayFromImage(known_mask(image, None)).any()  # nothing drawn: nothing known


def test_a_training_batch_holds_every_sequence_of_one_patient():
    from sacral_tumor_ai.training.mri_data import patient_batch

    rng = np.random.default_rng(0)
    cases = []
    for number, shape in enumerate([(20, 90, 80), (20, 100, 100), (12, 60, 60), (20, 90, 80)]):
        label = np.zeros(shape, np.uint8)
        label[5:9, 20:30, 20:30] = TUMOR.value
        cases.append({"image": np.full((1, *shape), number + 1, np.float16), "label": label, "known": np.ones(shape, bool)})
    images, labels, known = patient_batch(cases, 12, 0.5, 1, 64, rng)
    assert images.shape == (12, 3, 64, 64) and labels.shape == known.shape == (12, 64, 64)
    # Three slices from each sequence, each its own grid, and the tumour in every crop of a tumour slice.
    assert sorted(images[:, 1].max(axis=(1, 2)).tolist()) == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert all((labels[n] == TUMOR.value).any() for n in range(12) if labels[n].any())


def test_left_right_flip_keeps_the_left_hip_on_the_patients_left():
    import torch

    from sacral_tumor_ai.training.mri_data import flip_left_right

    labels = torch.zeros(1, 4, 10, dtype=torch.long)
    labels[0, :, :3], labels[0, :, 7:] = HIP_RIGHT.value, HIP_LEFT.value
    images = torch.arange(10.0).expand(1, 1, 4, 10)
    flipped_images, flipped, _ = flip_left_right(images, labels, torch.ones(1, 4, 10, dtype=torch.bool))
    assert flipped_images[0, 0, 0, 0] == 9
    assert (flipped[0, :, :3] == HIP_RIGHT.value).all() and (flipped[0, :, 7:] == HIP_LEFT.value).all()


def test_bone_providers_on_mri():
    from sacral_tumor_ai.ctseg.providers import get_provider

    with pytest.raises(SacralTumorAIError, match="works on CT only, not MR"):
        get_provider("classical").require("MR")  # a HU threshold means nothing on MRI
    get_provider("model").require("MR")
    reason = get_provider("totalsegmentator").availability()
    if reason:  # not installed here: a clear reason, never a download
        with pytest.raises(SacralTumorAIError, match="not available"):
            get_provider("totalsegmentator").require("MR")


def test_sequence_preference_follows_the_models_own_test_results():
    from sacral_tumor_ai.mriseg.plan import measured_dice, measured_preference

    metadata = {"metrics": {"test_fine_masks": {"methods": {
        "2.5D All-sequence: DWI": {"tumor": {"dice": {"mean": 0.8}}},
        "2.5D All-sequence: T2-w": {"tumor": {"dice": {"mean": 0.1}}},
    }}}}
    assert measured_preference(metadata) == ("dwi", "t2", "cet1", "t1")  # measured first, then seed 2's order
    assert measured_preference({}) == ("t2", "cet1", "dwi", "t1")
    assert measured_dice(metadata, "2.5D All-sequence: T2-w") == 0.1 and measured_dice({}, "x") is None


def test_a_dicom_dwi_series_with_several_b_values_reads_the_b1000_images(tmp_path):
    write_dwi_series(tmp_path / "dwi", (0, 500, 1000))
    image, note = read_dwi(tmp_path / "dwi")
    voxels = sitk.GetArrayFromImage(image)
    assert image.GetSize() == (32, 32, 6) and image.GetSpacing()[2] == pytest.approx(4.0)
    np.testing.assert_array_equal(voxels[:, 0, 0], 100 + np.arange(6))  # b = 1000, every position once, in order
    assert "b = 1000" in note and "0, 500, 1000" in note
    # One file of the series stands for it, as for any DICOM input.
    assert read_dwi(sorted((tmp_path / "dwi").iterdir())[0])[1] == note


def test_a_vendor_b_value_tag_is_read_and_the_highest_b_kept_without_b1000(tmp_path):
    write_dwi_series(tmp_path / "dwi", (0, 800), private=True)
    image, note = read_dwi(tmp_path / "dwi")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image)[:, 0, 0], 80 + np.arange(6))
    assert "highest, b = 800" in note


def test_a_single_b_value_dicom_dwi_reads_as_it_is(tmp_path):
    write_dwi_series(tmp_path / "dwi", (1000,))
    image, note = read_dwi(tmp_path / "dwi")
    assert note is None and image.GetSize() == (32, 32, 6)


def test_several_volumes_in_one_series_are_refused_not_interleaved(tmp_path):
    from sacral_tumor_ai.errors import InputImageError
    from sacral_tumor_ai.io import read_image

    write_dwi_series(tmp_path / "dwi", (0, 1000))
    with pytest.raises(InputImageError, match="12 images at only 6 slice positions"):
        read_image(tmp_path / "dwi")  # read as a plain image (not as a DWI), nothing tells the volumes apart
