"""Bone edges refined at the input's resolution: the rules, their axes, their metadata, the threshold search,
and ``calibrate-edges`` with the bundled model on a generated case (mechanics and direction, not the card's
numbers)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from sacral_tumor_ai.ctseg.bone_edges import HALO_SLICES, BoneEdges, refinable_structure, refine_bone_edges
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.evaluation.calibrate_edges import best_pair, calibrate_bone_edges, score_case
from sacral_tumor_ai.geometry import Geometry
from sacral_tumor_ai.labels import HIP_LEFT, SACRUM, TUMOR
from sacral_tumor_ai.models.package import ModelPackageError, load_package, sha256_of
from toy_ct import one_case_validation_cohort, write_toy_datalist

MODEL_GRID = (2.0, 2.0, 2.0)
CORTEX_HU, CANCELLOUS_HU, HALO_HU, MUSCLE_HU = 1000, 250, 200, 40


def _bone_phantom(spacing=(1.0, 1.0, 1.0)) -> tuple[sitk.Image, np.ndarray]:
    """A box of bone (cortex one voxel thick around cancellous bone) in muscle, with a one-voxel halo as a
    scanner's blur leaves it; returns the CT and the true bone mask (z-y-x)."""
    shape = (20, 24, 28)
    bone = np.zeros(shape, bool)
    bone[5:15, 6:18, 7:21] = True
    hu = np.full(shape, MUSCLE_HU, np.int16)
    hu[ndimage.binary_dilation(bone) & ~bone] = HALO_HU
    hu[bone] = CORTEX_HU
    hu[ndimage.binary_erosion(bone)] = CANCELLOUS_HU
    image = sitk.GetImageFromArray(hu)
    image.SetSpacing(spacing)
    return image, bone


def _refine(drawn: np.ndarray, image: sitk.Image, edges: BoneEdges, values=(HIP_LEFT.value,), **options) -> np.ndarray:
    """``drawn`` (a bone mask, or labels) refined; the input array is left as it was."""
    labels = np.where(drawn, HIP_LEFT.value, 0).astype(np.uint8) if drawn.dtype == bool else drawn.copy()
    refined = refine_bone_edges(labels, sitk.GetArrayViewFromImage(image), image.GetSpacing(), values, edges, MODEL_GRID, **options)
    assert refined == (refinable_structure(image.GetSpacing(), MODEL_GRID) is not None)
    return labels


def test_peeling_undoes_a_bone_drawn_one_voxel_too_far_out() -> None:
    image, bone = _bone_phantom()
    refined = _refine(ndimage.binary_dilation(bone), image, BoneEdges(shell_below_hu=350))
    np.testing.assert_array_equal(refined == HIP_LEFT.value, bone)
    # The dark cancellous inside is never reached: peeling is one voxel deep.
    assert (refined[ndimage.binary_erosion(bone)] == HIP_LEFT.value).all()


def test_growing_adds_bright_cortex_next_to_the_bone_only() -> None:
    image, bone = _bone_phantom()
    inside = ndimage.binary_erosion(bone)  # the cortex missed
    refined = _refine(inside, image, BoneEdges(grow_above_hu=700))
    np.testing.assert_array_equal(refined == HIP_LEFT.value, inside | (ndimage.binary_dilation(inside) & bone))
    assert not (refined[~bone] == HIP_LEFT.value).any()  # the halo is darker than the threshold


def test_only_axes_finer_than_the_model_grid_are_refined() -> None:
    assert refinable_structure((3.0, 3.0, 3.0), MODEL_GRID) is None
    structure = refinable_structure((0.8, 0.8, 5.0), MODEL_GRID)
    assert structure.sum() == 5 and not structure[0, 1, 1] and not structure[2, 1, 1]  # in-plane only (z-y-x)
    # 5 mm slices: the drawn bone's extra top and bottom slices stay (but for their own in-plane rim), its
    # in-plane ring goes.
    image, bone = _bone_phantom(spacing=(0.8, 0.8, 5.0))
    refined = _refine(ndimage.binary_dilation(bone), image, BoneEdges(350))
    assert (refined[4, 7:17, 8:20] == HIP_LEFT.value).all() and (refined[15, 7:17, 8:20] == HIP_LEFT.value).all()
    assert not (refined[5:15][~bone[5:15]] == HIP_LEFT.value).any()
    coarse, _ = _bone_phantom(spacing=(3.0, 3.0, 3.0))
    drawn = ndimage.binary_dilation(bone)
    assert np.array_equal(_refine(drawn, coarse, BoneEdges(350)) == HIP_LEFT.value, drawn)


def test_slabs_give_the_same_result_as_one_pass() -> None:
    image, bone = _bone_phantom()
    rng = np.random.default_rng(1)
    # A ragged drawing: too far out in places, too far in in others, so both rules act near slab borders.
    drawn = np.where(rng.random(bone.shape) < 0.5, ndimage.binary_dilation(bone), ndimage.binary_erosion(bone))
    edges = BoneEdges(350, 700)
    whole = _refine(drawn, image, edges)
    for slab_voxels in (1, 24 * 28 * 3, 24 * 28 * 7):  # one slice, three and seven slices at a time
        np.testing.assert_array_equal(_refine(drawn, image, edges, slab_voxels=slab_voxels), whole)
    assert not np.array_equal(whole, np.where(drawn, HIP_LEFT.value, 0))


def test_resampling_back_refines_slab_by_slab_as_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pipeline refines each resampled slab (with its halo) before pasting it into the labelmap: the result
    # must be that of refining the whole resampled labelmap at once, slab borders anywhere.
    import sacral_tumor_ai.ctseg.resample_back as resample_back
    from sacral_tumor_ai.ctseg.preprocess import Region, model_grid

    image, bone = _bone_phantom()
    hu = sitk.GetArrayViewFromImage(image)
    grid = model_grid(image, Region((0, 0, 0), image.GetSize()), MODEL_GRID)
    drawn = sitk.Resample(sitk.GetImageFromArray(np.where(ndimage.binary_dilation(bone), HIP_LEFT.value, 0).astype(np.uint8)), grid, sitk.Transform(), sitk.sitkNearestNeighbor)
    drawn.CopyInformation(grid)
    edges = BoneEdges(350, 700)
    region = Region((0, 0, 0), image.GetSize())
    unrefined = sitk.GetArrayFromImage(resample_back.labels_onto_region(drawn, Geometry.of(image), region, [HIP_LEFT.value]))
    whole = unrefined.copy()
    refine_bone_edges(whole, hu, image.GetSpacing(), (HIP_LEFT.value,), edges, MODEL_GRID)
    assert not np.array_equal(whole, unrefined)

    def refine(labels: np.ndarray, first: int) -> None:
        refine_bone_edges(labels, hu[first : first + len(labels)], image.GetSpacing(), (HIP_LEFT.value,), edges, MODEL_GRID)

    for slices in (1, 3, 7):
        monkeypatch.setattr(resample_back, "SLAB_VOXELS", 24 * 28 * slices)
        slabbed = resample_back.labels_onto_region(drawn, Geometry.of(image), region, [HIP_LEFT.value], resample_back.SlabRefinement(refine, HALO_SLICES))
        np.testing.assert_array_equal(sitk.GetArrayFromImage(slabbed), whole)


def test_tumour_and_other_bones_are_never_changed() -> None:
    image, bone = _bone_phantom()
    drawn = np.where(ndimage.binary_dilation(bone), HIP_LEFT.value, 0).astype(np.uint8)
    drawn[:, :, :7] = np.where(drawn[:, :, :7] > 0, TUMOR.value, 0)  # a tumour takes one end of the bone's halo
    drawn[:, :, 24:] = SACRUM.value  # another bone beside it
    refined = _refine(drawn, image, BoneEdges(350, 700))
    assert np.array_equal(refined == TUMOR.value, drawn == TUMOR.value)
    assert np.array_equal(refined == SACRUM.value, drawn == SACRUM.value)
    # Bone voxels that touch only tumour are not peeled, even where dark (the halo next to the tumour).
    assert (refined[5:15, 6:18, 7] == HIP_LEFT.value).all()


def test_bone_edge_settings_round_trip_and_bad_values_are_refused() -> None:
    spec = replace(CTModelSpec((2.0, 2.0, 2.0), ((-100.0, 300.0),), (16, 16, 16), ("tumor", "hip_left", "hip_right", "sacrum")), bone_edges=BoneEdges(350.0, None))
    metadata = spec.to_metadata()
    assert metadata["inference"]["bone_edges"] == {"shell_below_hu": 350.0, "grow_above_hu": None}
    assert CTModelSpec.from_metadata(metadata) == spec
    for entry in (None, {"shell_below_hu": None, "grow_above_hu": None}):
        assert CTModelSpec.from_metadata({**metadata, "inference": {"bone_edges": entry}}).bone_edges is None
    for bad in ({"shell_below_hu": "350"}, {"grow_above_hu": 5000}, [350]):
        with pytest.raises(ModelPackageError, match="bone_edges"):
            CTModelSpec.from_metadata({**metadata, "inference": {"bone_edges": bad}})


def test_the_search_finds_a_threshold_between_halo_and_cortex() -> None:
    image, bone = _bone_phantom()
    labels = np.where(ndimage.binary_dilation(bone), HIP_LEFT.value, 0).astype(np.uint8)
    reference = np.where(bone, HIP_LEFT.value, 0).astype(np.uint8)
    structure = refinable_structure(image.GetSpacing(), MODEL_GRID)
    scores = score_case(labels, sitk.GetArrayFromImage(image), reference, (HIP_LEFT.value, SACRUM.value), structure, "box")
    (shell, grow), after, before = best_pair([scores])
    # Every peel threshold between the halo and the cortex is perfect; the mildest of them is chosen.
    assert shell == 250.0 and grow is None
    assert after["hip_left"] == pytest.approx(1.0) and before["hip_left"] < 0.8
    assert after["sacrum"] == before["sacrum"] == 1.0  # absent in both: Dice 1 whatever the thresholds
    # A perfect drawing keeps the refinement off (ties keep the milder, unrefined pair).
    perfect = score_case(reference, sitk.GetArrayFromImage(image), reference, (HIP_LEFT.value,), structure)
    assert best_pair([perfect])[0] == (None, None)


def test_calibrate_edges_refuses_data_it_cannot_use(tmp_path: Path) -> None:
    from sacral_tumor_ai.demo import bundled_model_path

    coarse = write_toy_datalist(tmp_path / "coarse", counts=(0, 1, 0))  # 4 mm voxels: coarser than the 2 mm grid
    with pytest.raises(SacralTumorAIError, match="nothing to calibrate on"):
        calibrate_bone_edges(bundled_model_path("ct-seg"), [coarse], "validation", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_calibrate_edges_writes_a_package_that_the_pipeline_refines_with(tmp_path: Path) -> None:
    from sacral_tumor_ai.ctseg.pipeline import segment_ct
    from sacral_tumor_ai.demo import bundled_model_path
    from sacral_tumor_ai.evaluation.calibrate_edges import without_refinement
    from sacral_tumor_ai.phantom.case import ScanSettings

    cohort = tmp_path / "cohort"
    items = one_case_validation_cohort(cohort, ScanSettings(in_plane_mm=(1.2, 1.2), slice_mm=(2.5, 2.5)))
    source = load_package(bundled_model_path("ct-seg"))
    result = calibrate_bone_edges(source.folder, [cohort / "datalist.json"], "validation", tmp_path / "refined", version="9.9.9")

    package = load_package(tmp_path / "refined")
    record = package.metadata["inference"]["bone_edges_calibration"]
    assert record["cases"] == 1 and record["skipped"] == 0
    before, after = record["validation_dice_before"], record["validation_dice_after"]
    assert set(before) == {"hip_left", "hip_right", "sacrum"}
    assert np.mean(list(after.values())) >= np.mean(list(before.values()))
    assert sha256_of(package.weights_path) == sha256_of(source.weights_path) and package.version == "9.9.9"
    # The tumour's calibrated offset is kept beside the new setting.
    assert package.metadata["inference"]["decision_offsets"] == source.metadata["inference"]["decision_offsets"]

    # The bundled model draws this case's bones about a voxel too thick (as on the cohort): refining helps.
    assert result["bone_edges"] is not None
    assert np.mean(list(after.values())) > np.mean(list(before.values())) + 0.01
    image = sitk.ReadImage(str(cohort / items[0]["image"]))
    plain = sitk.GetArrayFromImage(segment_ct(image, without_refinement(package)).labelmap)
    refined = sitk.GetArrayFromImage(segment_ct(image, package).labelmap)
    changed = plain != refined
    assert changed.any()
    assert not (plain[changed] == TUMOR.value).any() and not (refined[changed] == TUMOR.value).any()
    # Only voxels on the unrefined bones' surfaces change.
    surfaces = np.zeros_like(changed)
    for value in (2, 3, 4):
        bone = plain == value
        surfaces |= ndimage.binary_dilation(bone) & ~ndimage.binary_erosion(bone)
    assert not (changed & ~surfaces).any()
