"""The tumour-edge refinement: the rule on phantoms (a rim peeled by density, never an iso-dense tumour or a
sure voxel), its metadata, the contrast search, and ``calibrate-tumour-edges`` and the pipeline with the
bundled model on a generated case (mechanics and direction, not the card's numbers)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.ctseg.tumour_edges import TumourEdges, refine_tumour_edges, soft_tissue_hounsfield, tumour_rim
from sacral_tumor_ai.evaluation.calibrate_tumour_edges import CONTRASTS_HU, choose_contrast
from sacral_tumor_ai.evaluation.segmentation_metrics import dice
from sacral_tumor_ai.labels import SACRUM, TUMOR
from sacral_tumor_ai.models.package import ModelPackageError, load_package, sha256_of
from toy_ct import one_case_validation_cohort

MUSCLE_HU = 50.0


def _phantom(tumour_hu: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A sphere of tumour in muscle (noisy HU), drawn two voxels too large with a rim the network is unsure
    of: (true tumour, drawn labels, tumour probability, HU)."""
    z, y, x = np.mgrid[:40, :40, :40]
    truth = (z - 20) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 9**2
    drawn = ndimage.binary_dilation(truth, iterations=2)
    labels = np.where(drawn, TUMOR.value, 0).astype(np.uint8)
    probability = np.where(ndimage.binary_erosion(truth, iterations=1), 0.99, np.where(drawn, 0.7, 0.05)).astype(np.float32)
    hounsfield = np.where(truth, tumour_hu, MUSCLE_HU) + np.random.default_rng(seed).normal(0, 4, truth.shape)
    return truth, labels, probability, hounsfield.astype(np.float32)


def test_a_rim_of_muscle_around_a_darker_tumour_is_peeled() -> None:
    truth, labels, probability, hounsfield = _phantom(tumour_hu=35.0)
    before = dice(labels == TUMOR.value, truth)
    peeled = refine_tumour_edges(labels, probability, hounsfield, TUMOR.value, TumourEdges(10.0))
    assert peeled > 0
    assert dice(labels == TUMOR.value, truth) > max(before + 0.1, 0.95)
    assert set(np.unique(labels)) == {0, TUMOR.value}  # peeled voxels become background


def test_an_iso_dense_tumour_or_a_high_contrast_setting_is_left_as_drawn() -> None:
    _, labels, probability, hounsfield = _phantom(tumour_hu=MUSCLE_HU)
    assert not tumour_rim(labels, probability, hounsfield, TUMOR.value, TumourEdges(5.0)).any()
    _, labels, probability, hounsfield = _phantom(tumour_hu=35.0)
    assert not tumour_rim(labels, probability, hounsfield, TUMOR.value, TumourEdges(25.0)).any()


def test_sure_voxels_bones_and_an_empty_tumour_are_never_touched() -> None:
    truth, labels, probability, hounsfield = _phantom(tumour_hu=35.0)
    sure = np.full_like(probability, 0.99)
    assert not tumour_rim(labels, sure, hounsfield, TUMOR.value, TumourEdges(5.0)).any()
    with_bone = labels.copy()
    with_bone[:, :, :8] = SACRUM.value
    refine_tumour_edges(with_bone, probability, hounsfield, TUMOR.value, TumourEdges(5.0))
    assert (with_bone[:, :, :8] == SACRUM.value).all()
    empty = np.zeros_like(labels)
    assert refine_tumour_edges(empty, probability, hounsfield, TUMOR.value, TumourEdges(5.0)) == 0


def test_settings_round_trip_and_bad_values_are_refused() -> None:
    spec = replace(CTModelSpec((2.0, 2.0, 2.0), ((-100.0, 300.0),), (16, 16, 16), ("tumor", "sacrum")), tumour_edges=TumourEdges(10.0))
    metadata = spec.to_metadata()
    assert metadata["inference"]["tumour_edges"] == {"min_contrast_hu": 10.0, "sure_probability": 0.95}
    assert CTModelSpec.from_metadata(metadata) == spec
    assert CTModelSpec.from_metadata({**metadata, "inference": {"tumour_edges": None}}).tumour_edges is None
    for bad in ({"min_contrast_hu": -1}, {"min_contrast_hu": 5, "sure_probability": 1.0}, {"sure_probability": 0.9}, {"min_contrast_hu": "x"}, [5]):
        with pytest.raises(ModelPackageError, match="tumour_edges"):
            CTModelSpec.from_metadata({**metadata, "inference": {"tumour_edges": bad}})
    bones_only = {**metadata, "output": {"activation": "softmax", "labels": ["sacrum"]}}
    with pytest.raises(ModelPackageError, match="outputs no tumour"):
        CTModelSpec.from_metadata(bones_only)


def test_the_soft_tissue_hounsfield_units_come_back_from_the_right_window() -> None:
    hounsfield = np.array([[[-50.0, 40.0, 200.0]]], np.float32)
    windows = ((-250.0, 1250.0), (-100.0, 300.0))
    channels = np.stack([np.clip((hounsfield - low) / (high - low), 0, 1) for low, high in windows])
    assert np.allclose(soft_tissue_hounsfield(channels, windows), hounsfield, atol=1e-3)
    with pytest.raises(ModelPackageError, match="window covering"):
        soft_tissue_hounsfield(channels[:1], ((200.0, 1200.0),))


def test_the_search_keeps_the_mildest_setting_within_the_tolerance() -> None:
    flat = [[0.8] * len(CONTRASTS_HU)] * 3
    assert choose_contrast(flat)[0] is None  # no gain: no refinement
    gains = [[0.70, 0.70, 0.75, 0.80, 0.801, 0.79]] * 2
    assert choose_contrast(gains)[0] == 10.0  # 5 HU gains only 0.001 more


def test_calibrate_tumour_edges_writes_a_package_the_pipeline_peels_with(tmp_path: Path) -> None:
    from sacral_tumor_ai.ctseg.pipeline import segment_ct
    from sacral_tumor_ai.demo import bundled_model_path
    from sacral_tumor_ai.evaluation.calibrate_tumour_edges import calibrate_tumour_edges

    cohort = tmp_path / "cohort"
    items = one_case_validation_cohort(cohort)
    source = load_package(bundled_model_path("ct-seg"))
    result = calibrate_tumour_edges(source.folder, [cohort / "datalist.json"], "validation", tmp_path / "peeled", version="9.9.9")

    package = load_package(tmp_path / "peeled")
    record = package.metadata["inference"]["tumour_edges_calibration"]
    assert record["cases"] == 1 and len(record["mean_tumour_dice_by_contrast_hu"]) == len(CONTRASTS_HU)
    assert package.metadata["inference"]["tumour_edges"] == result["tumour_edges"]
    assert sha256_of(package.weights_path) == sha256_of(source.weights_path) and package.version == "9.9.9"
    assert package.metadata["inference"]["decision_offsets"] == source.metadata["inference"]["decision_offsets"]

    # Whatever was chosen, the pipeline with the lowest contrast draws less tumour, and what it gives up is
    # tumour (a bone's edge next to the tumour may move with it).
    image = sitk.ReadImage(str(cohort / items[0]["image"]))
    plain = sitk.GetArrayFromImage(segment_ct(image, _with_edges(package, tmp_path / "plain", None)).labelmap)
    peeled = sitk.GetArrayFromImage(segment_ct(image, _with_edges(package, tmp_path / "forced", TumourEdges(0.0))).labelmap)
    changed = plain != peeled
    assert np.count_nonzero(peeled == TUMOR.value) < np.count_nonzero(plain == TUMOR.value)
    assert np.mean(plain[changed] == TUMOR.value) > 0.9 and np.mean(peeled[changed] == 0) > 0.9


def _with_edges(package, folder: Path, edges: TumourEdges | None):
    from sacral_tumor_ai.models.package import install_package

    inference = {**package.metadata["inference"], "tumour_edges": edges.to_metadata() if edges else None}
    return install_package(package.folder, folder, {}, updates={"inference": inference})


def test_calcified_matrix_neither_skews_the_core_nor_is_peeled() -> None:
    truth, labels, probability, hounsfield = _phantom(tumour_hu=35.0)
    calcified = truth & (np.indices(truth.shape).sum(axis=0) % 5 == 0)  # chondroid rings and arcs, roughly
    hounsfield[calcified] = 700.0
    rim_calcium = (labels == TUMOR.value) & ~truth & (np.indices(truth.shape)[0] == 20)
    hounsfield[rim_calcium] = 700.0
    before = dice(labels == TUMOR.value, truth)
    refine_tumour_edges(labels, probability, hounsfield, TUMOR.value, TumourEdges(10.0))
    assert (labels[rim_calcium] == TUMOR.value).all()
    assert dice(labels == TUMOR.value, truth) > before + 0.1  # the voxels blurred by the calcium stay
