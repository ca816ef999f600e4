"""The generated CT's partial volume: voxels average sub-voxels, as a detector does, instead of point-sampling."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM
from sacral_tumor_ai.phantom.case import ScanSettings, case_implants, case_patient, generate_case
from sacral_tumor_ai.phantom.ct import SUB_VOXEL_MM, compute_fields, render
from sacral_tumor_ai.phantom.grid import Grid, block_centres, block_mean
from sacral_tumor_ai.phantom.implants import MetalArtefacts


def _linear(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    return (0.3 * x - 1.7 * y + 2.9 * z + 5.0).astype(np.float32)


def test_a_supersampled_grid_averages_back_onto_its_voxels() -> None:
    grid = Grid.around((11, 9, 7), (0.8, 2.0, 4.6), (3.0, -2.0, 10.0))
    sub_grid, block = grid.supersampled(1.25)
    assert block == (1, 2, 4)
    assert sub_grid.size == (11, 18, 28)
    x, y, z = _points(grid)
    sx, sy, sz = _points(sub_grid)
    fine = _linear(sx, sy, sz)
    # Sub-voxel centres are spread evenly inside their voxel, so both the block mean and the block centre of a
    # linear field are its value at the voxel centre.
    np.testing.assert_allclose(block_mean(fine, block), _linear(x, y, z), atol=1e-3)
    np.testing.assert_allclose(block_centres(fine, block), _linear(x, y, z), atol=1e-3)
    odd = Grid.around((5, 5, 5), (1.0, 1.0, 3.0), (0.0, 0.0, 0.0)).supersampled(1.25)
    assert odd[1] == (1, 1, 3)


def test_upsampled_fields_match_the_coarse_samples_they_interpolate() -> None:
    grid = Grid.around((23, 17, 13), (0.7, 0.9, 1.1), (0.0, 0.0, 0.0))
    coarse = _linear(*grid.coarse_points())
    np.testing.assert_allclose(grid.upsample(coarse), _linear(*_points(grid)), atol=1e-3)


def test_a_field_upsampled_below_a_level_is_exact_there_and_never_crosses_it() -> None:
    rng = np.random.default_rng(7)
    for size, spacing in (((61, 47, 29), (0.7, 0.9, 1.1)), ((40, 40, 13), (1.0, 0.6, 2.5))):
        grid = Grid.around(size, spacing, (0.0, 0.0, 0.0))
        x, y, z = grid.coarse_points()
        for centre in (x.mean(), x.min(), x.max() + 30.0):  # a blob in the middle, at an edge, outside the grid
            coarse = (np.sqrt((x - centre) ** 2 + (y - 1.0) ** 2 + (z + 2.0) ** 2) - 9.0 + rng.normal(0, 0.5, x.shape)).astype(np.float32)
            exact, (banded, box) = grid.upsample(coarse), grid.upsample_below_boxed(coarse, 2.0)
            assert banded.shape == exact.shape == tuple(reversed(size))
            below = exact < 2.0
            assert np.array_equal(banded[below], exact[below])  # to the bit
            assert (banded[~below] >= 2.0).all() and below.any() == (centre != x.max() + 30.0)
            outside = np.ones(banded.shape, bool)
            outside[box] = False  # a renderer skips everything outside the box: nothing there is below the level
            assert (banded[outside] == 2.0).all() and below[box].sum() == below.sum()
            assert np.array_equal(grid.upsample_below(coarse, 2.0), banded)


def test_a_coarse_scan_shows_thin_cortex_at_partial_density() -> None:
    # The same patient at 1 mm and at 3 mm: a 0.6-1.4 mm cortex fills at most part of a 3 mm voxel, so the
    # brightest bone voxels are far dimmer at 3 mm. Point sampling would show it at full density, or not at all.
    fine = _bone_percentile(generate_case(3, 1, ScanSettings(in_plane_mm=(1.0, 1.0), slice_mm=(1.0, 1.0))), 99)
    coarse = _bone_percentile(generate_case(3, 1, ScanSettings(in_plane_mm=(3.0, 3.0), slice_mm=(3.0, 3.0))), 99)
    assert fine > 600
    assert coarse < 0.8 * fine


def _bone_percentile(case, q: float) -> float:
    hu = sitk.GetArrayFromImage(case.image)
    labels = sitk.GetArrayFromImage(case.labelmap)
    return float(np.percentile(hu[np.isin(labels, (HIP_LEFT.value, HIP_RIGHT.value, SACRUM.value))], q))


def _points(grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axes = [o + np.arange(n) * s for o, n, s in zip(grid.origin, grid.size, grid.spacing)]
    zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    return xx, yy, zz


def test_rendering_within_the_fields_boxes_changes_no_voxel() -> None:
    # The renderer writes each banded structure (organs, bones, tumour, metal) within its box only; the same
    # fields rendered over the whole grid must give the same image and labels, to the bit.
    settings = ScanSettings(size=(96, 96, 40))
    for index in (0, 22):  # seed 1: an expansile, calcified, necrotic, permeative tumour; a prosthesis beside an expansile one
        patient = case_patient(1, index, settings)
        implants, metal_rng = case_implants(1, index, patient)
        sub_grid, block = patient.grid.supersampled(SUB_VOXEL_MM)
        fields = compute_fields(sub_grid, patient.pose, patient.pelvis, patient.body, patient.tumour, np.random.default_rng(0), implants)
        assert {"tumour", "sacrum", "bladder"} <= fields.boxes.keys() and bool(implants) == ("metal" in fields.boxes)
        artefacts = MetalArtefacts.sample(metal_rng) if implants else None
        boxed, whole = (
            render(candidate, patient.tumour, np.random.default_rng(1), 50.0, patient.grid.spacing, 15.0, block, artefacts)
            for candidate in (fields, replace(fields, boxes={}))
        )
        for a, b in zip(boxed, whole):
            assert np.array_equal(a, b)
