"""DICOM series: the real series reads with its geometry; several series in a folder ask for a choice."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from sacral_tumor_ai.errors import InputImageError
from sacral_tumor_ai.io import list_dicom_series, read_image
from sacral_tumor_ai.modality import CT, guess_modality


def test_reads_the_real_series(dicom_folder: Path) -> None:
    image = read_image(dicom_folder)
    assert image.GetSize() == (512, 512, 20)
    np.testing.assert_allclose(image.GetSpacing(), (0.9765625, 0.9765625, 2.0), atol=1e-6)
    np.testing.assert_allclose(image.GetDirection(), np.eye(3).ravel(), atol=1e-6)
    # One file stands for its series.
    single = read_image(sorted(dicom_folder.iterdir())[0])
    assert single.GetSize() == image.GetSize()
    guess = guess_modality(image)
    assert (guess.modality, guess.source) == (CT, "dicom")


def test_the_files_an_image_was_read_from_come_with_it(dicom_folder: Path, tmp_path: Path) -> None:
    from sacral_tumor_ai.io import write_image
    from sacral_tumor_ai.io.image_io import read_image_and_sources

    image, sources = read_image_and_sources(dicom_folder)
    assert len(sources) == image.GetSize()[2] and all(Path(f).is_absolute() and Path(f).parent == dicom_folder.resolve() for f in sources)
    assert sorted(read_image_and_sources(sorted(dicom_folder.iterdir())[0])[1]) == sorted(sources)
    assert read_image_and_sources(write_image(image, tmp_path / "ct.nii.gz"))[1] == []


def test_geometry_matches_the_dicom_headers(dicom_folder: Path) -> None:
    image = read_image(dicom_folder)
    positions = sorted(
        (pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient for p in dicom_folder.iterdir()),
        key=lambda position: float(position[2]),
    )
    np.testing.assert_allclose(image.GetOrigin(), [float(v) for v in positions[0]], atol=1e-6)
    # Rescale slope/intercept applied: air outside the body is about -1000 HU, not raw stored values.
    assert float(np.percentile(np.asarray(__import__("SimpleITK").GetArrayViewFromImage(image)), 1)) < -900


@pytest.fixture
def two_series_folder(tmp_path: Path, dicom_folder: Path) -> Path:
    """The real slices split into two series with their own UIDs and descriptions."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for index, source in enumerate(sorted(dicom_folder.iterdir())):
        dataset = pydicom.dcmread(source)
        first = index % 2 == 0
        dataset.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1" if first else "1.2.826.0.1.3680043.8.498.2"
        dataset.SeriesDescription = "Body 3.0 A" if first else "Body 3.0 B"
        dataset.save_as(folder / source.name)
    return folder


def test_several_series_ask_which(two_series_folder: Path) -> None:
    series = list_dicom_series(two_series_folder)
    assert sorted(s.description for s in series) == ["Body 3.0 A", "Body 3.0 B"]
    with pytest.raises(InputImageError) as caught:
        read_image(two_series_folder)
    message = str(caught.value)
    assert "2 DICOM series" in message and "Body 3.0 A" in message and "--series" in message
    by_description = read_image(two_series_folder, series="body 3.0 b")
    by_uid = read_image(two_series_folder, series="1.2.826.0.1.3680043.8.498.1")
    assert by_description.GetSize()[2] == by_uid.GetSize()[2] == 10
    with pytest.raises(InputImageError, match="matches no series"):
        read_image(two_series_folder, series="T2 axial")


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(InputImageError, match="no DICOM image series"):
        read_image(tmp_path)


def test_folder_of_broken_dicom_files(tmp_path: Path, dicom_folder: Path) -> None:
    for source in sorted(dicom_folder.iterdir())[:3]:
        shutil.copy(source, tmp_path / source.name)
        data = (tmp_path / source.name).read_bytes()
        (tmp_path / source.name).write_bytes(data[: len(data) // 3])
    with pytest.raises(InputImageError) as caught:
        read_image(tmp_path)
    assert str(tmp_path) in str(caught.value)
