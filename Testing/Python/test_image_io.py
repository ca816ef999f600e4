"""Image files: geometry survives every round trip; bad files give one clear error and write nothing."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.errors import InputImageError
from sacral_tumor_ai.geometry import geometry_difference
from sacral_tumor_ai.io import WRITE_SUFFIXES, read_image, write_image
from sacral_tumor_ai.io.slab_read import read_in_slabs


@pytest.mark.parametrize("suffix", WRITE_SUFFIXES)
def test_round_trip_keeps_geometry_and_voxels(tmp_path: Path, oblique_image: sitk.Image, suffix: str) -> None:
    path = write_image(oblique_image, tmp_path / f"volume{suffix}")
    back = read_image(path)
    assert geometry_difference(back, oblique_image) < 1e-6
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(oblique_image))


def test_real_ct_round_trip(tmp_path: Path, real_ct_path: Path) -> None:
    original = read_image(real_ct_path)
    back = read_image(write_image(original, tmp_path / "ct.nrrd"))
    assert geometry_difference(back, original) < 1e-6
    assert back.GetPixelID() == original.GetPixelID()
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(original))


def test_write_leaves_no_partial_file_on_failure(
    tmp_path: Path, oblique_image: sitk.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = tmp_path / "volume.nii.gz"
    previous.write_bytes(b"the user's earlier result")

    def write_half_then_fail(image: sitk.Image, path: str, *args: object) -> None:
        Path(path).write_bytes(b"half a volume")
        raise RuntimeError("disk full")

    monkeypatch.setattr(sitk, "WriteImage", write_half_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        write_image(oblique_image, previous)
    assert [p.name for p in tmp_path.iterdir()] == ["volume.nii.gz"]
    assert previous.read_bytes() == b"the user's earlier result"
    with pytest.raises(ValueError):
        write_image(oblique_image, tmp_path / "volume.png")


def test_squeezes_a_4d_file_with_one_time_point(tmp_path: Path) -> None:
    image = sitk.Image([5, 6, 7, 1], sitk.sitkInt16)
    sitk.WriteImage(image, str(tmp_path / "single.nii.gz"))
    assert read_image(tmp_path / "single.nii.gz").GetSize() == (5, 6, 7)


def _expect_error(path: Path, fragment: str) -> InputImageError:
    with pytest.raises(InputImageError) as caught:
        read_image(path)
    message = str(caught.value)
    assert str(path) in message and fragment in message, message
    return caught.value


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.nii.gz", "no such file")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.nii.gz").write_bytes(b"")
    _expect_error(tmp_path / "empty.nii.gz", "empty file")


def test_corrupt_nifti(tmp_path: Path, real_ct_path: Path) -> None:
    # ITK itself reads both truncated files "successfully", zero-filling the missing voxels.
    truncated = tmp_path / "truncated.nii.gz"
    truncated.write_bytes(real_ct_path.read_bytes()[:5000])
    _expect_error(truncated, "truncated")
    uncompressed = tmp_path / "whole.nii"
    sitk.WriteImage(sitk.ReadImage(str(real_ct_path)), str(uncompressed), False)
    cut = tmp_path / "cut.nii"
    cut.write_bytes(uncompressed.read_bytes()[:-1000])
    _expect_error(cut, "truncated")
    assert read_image(uncompressed).GetSize() == (122, 101, 112)
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_bytes(gzip.compress(b"this is not a nifti header" * 20))
    _expect_error(garbage, "cannot be read")
    not_gzip = tmp_path / "scan.nii.gz"  # a .gz name on bytes that are not a gzip stream
    not_gzip.write_bytes(b"\x1f\x8b" + b"corrupt" * 100)
    _expect_error(not_gzip, "corrupt")


def test_4d_volume(tmp_path: Path) -> None:
    sitk.WriteImage(sitk.Image([4, 5, 6, 3], sitk.sitkFloat32), str(tmp_path / "dwi.nii.gz"))
    _expect_error(tmp_path / "dwi.nii.gz", "4 dimensions")


def test_2d_image(tmp_path: Path) -> None:
    sitk.WriteImage(sitk.Image([4, 5], sitk.sitkInt16), str(tmp_path / "slice.nrrd"))
    _expect_error(tmp_path / "slice.nrrd", "2 dimensions")


def test_non_orthogonal_direction(tmp_path: Path) -> None:
    # NRRD stores the space directions as written, so a sheared grid reaches the reader intact.
    header = (
        "NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 4 4 4\n"
        "space directions: (1,0,0) (0.5,1,0) (0,0,1)\nkinds: domain domain domain\nendian: little\n"
        "encoding: raw\nspace origin: (0,0,0)\n\n"
    )
    path = tmp_path / "sheared.nrrd"
    path.write_bytes(header.encode() + np.zeros(64, "<i2").tobytes())
    _expect_error(path, "non-orthogonal")


def test_nan_volume(tmp_path: Path) -> None:
    array = np.full((4, 5, 6), np.nan, dtype=np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(array), str(tmp_path / "nan.nrrd"))
    _expect_error(tmp_path / "nan.nrrd", "NaN")
    array[1:] = 3.0
    sitk.WriteImage(sitk.GetImageFromArray(array), str(tmp_path / "some_nan.mha"))
    _expect_error(tmp_path / "some_nan.mha", "30 of 120 voxels")


def test_zero_size_volume(tmp_path: Path) -> None:
    header = (
        "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 0 4\nkinds: domain domain domain\nendian: little\n"
        "encoding: raw\n\n"
    )
    path = tmp_path / "zero.nrrd"
    path.write_bytes(header.encode())
    error = pytest.raises(InputImageError, read_image, path)
    assert str(path) in str(error.value)


def test_colour_image(tmp_path: Path) -> None:
    sitk.WriteImage(sitk.Image([4, 5, 6], sitk.sitkVectorUInt8, 3), str(tmp_path / "rgb.nrrd"))
    _expect_error(tmp_path / "rgb.nrrd", "components")


def test_unsupported_format(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    _expect_error(tmp_path / "photo.png", "unsupported format")


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_slab_read_equals_the_whole_read(tmp_path: Path, real_ct_path: Path, suffix: str) -> None:
    # Slabs of 7 slices: uneven last slab; the real CT's header (qform, description) must survive too.
    path = write_image(read_image(real_ct_path), tmp_path / f"ct{suffix}")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    size = reader.GetSize()
    slabbed = read_in_slabs(reader, slab_bytes=7 * size[0] * size[1] * 2)
    whole = sitk.ReadImage(str(path))
    assert geometry_difference(slabbed, whole) == 0
    assert slabbed.GetPixelID() == whole.GetPixelID()
    assert _printable_metadata(slabbed) == _printable_metadata(whole)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(slabbed), sitk.GetArrayViewFromImage(whole))


def _printable_metadata(image: sitk.Image) -> dict[str, str]:
    # ITK_original_direction/spacing are matrices that SimpleITK cannot print: nothing reads them.
    values = {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()}
    return {key: value for key, value in values.items() if not value.startswith("[UNKNOWN")}


def test_slab_read_applies_the_nifti_scaling(tmp_path: Path) -> None:
    # scl_slope / scl_inter turn stored integers into floats: the slabs must be scaled as the whole read is.
    path = write_image(sitk.GetImageFromArray(np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4)), tmp_path / "scaled.nii")
    data = bytearray(path.read_bytes())
    data[112:120] = np.array([0.5, -100.0], dtype="<f4").tobytes()
    path.write_bytes(bytes(data))
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    slabbed = read_in_slabs(reader, slab_bytes=1)
    whole = sitk.ReadImage(str(path))
    assert slabbed.GetPixelID() == whole.GetPixelID() == sitk.sitkFloat32
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(slabbed), np.arange(120).reshape(6, 5, 4) * 0.5 - 100)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(slabbed), sitk.GetArrayViewFromImage(whole))


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_large_nifti_is_read_in_slabs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oblique_image: sitk.Image, suffix: str) -> None:
    import sacral_tumor_ai.io.slab_read as slab_read

    calls: list[int] = []
    real = slab_read.read_in_slabs
    monkeypatch.setattr(slab_read, "LARGE_VOLUME_BYTES", 1)
    monkeypatch.setattr(slab_read, "SLAB_BYTES", 1)
    monkeypatch.setattr(slab_read, "read_in_slabs", lambda reader, slab_bytes: calls.append(slab_bytes) or real(reader, slab_bytes))
    back = read_image(write_image(oblique_image, tmp_path / f"volume{suffix}"))
    volume_bytes = int(np.prod(oblique_image.GetSize())) * oblique_image.GetSizeOfPixelComponent()
    # A compressed file is decompressed from its start for every slab: it is read in eight.
    assert calls == [1 if suffix == ".nii" else -(-volume_bytes // 8)]
    assert geometry_difference(back, oblique_image) < 1e-6
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(oblique_image))
