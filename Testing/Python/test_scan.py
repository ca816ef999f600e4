"""A scan released to its file answers slabs, regions and planes as the in-memory scan does, and the main job
gives the same outputs from it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

import sacral_tumor_ai.io.slab_read as slab_read
from sacral_tumor_ai.errors import InputImageError
from sacral_tumor_ai.io import write_image
from sacral_tumor_ai.io.scan import Scan, open_scan


@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch):
    """Every NIfTI file counts as large, read back in slabs of 2000 bytes (a few slices)."""
    monkeypatch.setattr(slab_read, "LARGE_VOLUME_BYTES", 1)
    monkeypatch.setattr(slab_read, "SLAB_BYTES", 2000)


def _oblique_volume() -> sitk.Image:
    rng = np.random.default_rng(3)
    image = sitk.GetImageFromArray(rng.integers(-1000, 1500, (13, 11, 9)).astype(np.int16))
    image.SetSpacing((0.8, 0.9, 2.5))
    image.SetOrigin((10.0, -20.0, 30.0))
    image.SetDirection((0.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0))  # axes permuted and flipped
    return image


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_a_released_scan_reads_what_it_held(streamed, tmp_path: Path, suffix: str) -> None:
    path = write_image(_oblique_volume(), tmp_path / f"scan{suffix}")
    held = sitk.GetArrayFromImage(open_scan(path).image)
    scan = open_scan(path)
    scan.release()
    assert not scan.in_memory
    for first, stop in ((0, 2), (1, 5), (4, 13), (12, 13), (0, 13)):  # inside, across and beyond the last slab
        np.testing.assert_array_equal(scan.slab(first, stop), held[first:stop])
    box = scan.region((2, 3, 4), (5, 6, 7))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(box), held[4:11, 3:9, 2:7])
    assert box.GetOrigin() == pytest.approx(scan.transform_reference().TransformIndexToPhysicalPoint((2, 3, 4)))
    for axis in range(3):
        for index in (0, held.shape[axis] - 1):
            np.testing.assert_array_equal(scan.plane(axis, index), np.take(held, index, axis=axis))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(scan.image), held)  # the whole volume, read again


def test_small_files_dicom_and_images_stay_in_memory(tmp_path: Path, dicom_folder: Path) -> None:
    path = write_image(_oblique_volume(), tmp_path / "scan.nii.gz")
    for scan in (open_scan(path), open_scan(dicom_folder), Scan.of(_oblique_volume())):
        scan.release()
        assert scan.in_memory


def test_a_scan_changed_on_disk_is_not_mixed_with_the_new_file(streamed, tmp_path: Path) -> None:
    path = write_image(_oblique_volume(), tmp_path / "scan.nii")
    scan = open_scan(path)
    scan.release()
    write_image(sitk.Flip(_oblique_volume(), [True, False, False]), path)
    os.utime(path, ns=(1, 1))  # a new modification time even on a coarse clock
    with pytest.raises(InputImageError, match="changed on disk"):
        scan.slab(0, 1)


def test_the_main_job_gives_the_same_outputs_from_a_released_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A generated case finer than the model grid, so that the bone-edge refinement reads slabs back."""
    from sacral_tumor_ai.phantom.case import ScanSettings, generate_case
    from sacral_tumor_ai.run import run_case

    settings = ScanSettings(in_plane_mm=(1.2, 1.2), slice_mm=(1.5, 1.5), field_of_view_mm=(300.0, 300.0), length_mm=(180.0, 180.0))
    path = write_image(generate_case(5, 0, settings).image, tmp_path / "case.nii")
    clinical = {"age": 55, "sex": "female"}
    held = run_case(path, tmp_path / "held", clinical=clinical)

    reads = []
    reader = Scan._reader
    monkeypatch.setattr(Scan, "_reader", lambda self: reads.append(self.in_memory) or reader(self))
    monkeypatch.setattr(slab_read, "LARGE_VOLUME_BYTES", 1)
    monkeypatch.setattr(slab_read, "SLAB_BYTES", 4 << 20)
    released = run_case(path, tmp_path / "released", clinical=clinical)

    assert reads and not any(reads)  # read back from the file, and only once released
    assert held["timings_s"]["bone_edges"] > 0
    for key in ("labels", "volumes_ml", "location", "classification", "input", "warnings"):
        assert released[key] == held[key], key
    assert {**released["segmentation"], "timings_s": None} == {**held["segmentation"], "timings_s": None}
    labels = [sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / run / "segmentation.nii.gz"))) for run in ("held", "released")]
    np.testing.assert_array_equal(labels[0], labels[1])
    assert (tmp_path / "held" / "preview.png").read_bytes() == (tmp_path / "released" / "preview.png").read_bytes()
