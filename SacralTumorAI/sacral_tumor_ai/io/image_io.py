"""Read and write 3D images (NIfTI, NRRD, MetaImage, DICOM series) with their geometry intact."""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from sacral_tumor_ai.errors import InputImageError, itk_error_summary
from sacral_tumor_ai.io.atomic import atomic_output, full_suffix
from sacral_tumor_ai.io.dicom_series import DicomSeries, list_dicom_series, read_chosen_series, select_series
from sacral_tumor_ai.io.nifti_check import check_nifti_complete
from sacral_tumor_ai.io.slab_read import read_nifti
from sacral_tumor_ai.io.validate import squeeze_trailing_singletons, validate_image

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
# Single-file formats only: a detached header would point at the temporary data file after the atomic move.
WRITE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha")


def read_image(path: str | Path, series: str | None = None) -> sitk.Image:
    """Read a 3D volume from a file or a DICOM folder and check it (see :func:`validate_image`).

    ``series`` chooses a series, by UID or description, when a DICOM folder holds several. A single DICOM
    file stands for the series it belongs to, read from its folder.
    """
    return read_image_and_sources(path, series)[0]


def read_image_and_sources(path: str | Path, series: str | None = None) -> tuple[sitk.Image, list[str]]:
    """:func:`read_image`, and the DICOM files the image was read from (empty for other formats), so that a
    DICOM SEG can reference them without listing the folder again."""
    path = Path(path)
    found = find_dicom_series(path, series)
    if found is not None:
        folder, chosen = found
        return read_found_series(folder, chosen), [str(Path(f).resolve()) for f in chosen.files]
    return checked(_read_file(path), path), []


def find_dicom_series(path: str | Path, series: str | None = None) -> tuple[Path, DicomSeries] | None:
    """The folder and DICOM series that ``path`` stands for (a DICOM folder, or one file of the series;
    ``series`` chooses among several); None when ``path`` is an image file of another format."""
    path = Path(path)
    if not path.exists():
        raise InputImageError(path, "no such file or folder")
    if path.is_dir():
        return path, select_series(path, list_dicom_series(path), series)
    if path.stat().st_size == 0:
        raise InputImageError(path, "is an empty file")
    if full_suffix(path) not in IMAGE_SUFFIXES and _is_dicom(path):
        return path.parent, select_series(path.parent, list_dicom_series(path.parent), series or _series_uid_of(path))
    return None


def read_found_series(folder: Path, chosen: DicomSeries) -> sitk.Image:
    """A series found by :func:`find_dicom_series` (or a part of it), read and checked."""
    return checked(read_chosen_series(folder, chosen), folder)


def checked(image: sitk.Image, path: Path) -> sitk.Image:
    """``image`` as a 3D volume (trailing singleton axes dropped), checked by :func:`validate_image`."""
    image = squeeze_trailing_singletons(image)
    validate_image(image, path)
    return image


def _read_file(path: Path) -> sitk.Image:
    suffix = full_suffix(path)
    if suffix not in IMAGE_SUFFIXES:
        raise InputImageError(
            path, f"has an unsupported format '{suffix}'; use NIfTI, NRRD, MetaImage or a DICOM folder"
        )
    nifti = suffix in (".nii", ".nii.gz")
    if nifti:
        check_nifti_complete(path)
    try:
        return read_nifti(path) if nifti else sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputImageError(path, f"cannot be read as an image ({itk_error_summary(error)})") from error


def _is_dicom(path: Path) -> bool:
    # DICOM files are named freely (often by UID), so recognise them by the "DICM" mark after the preamble.
    with path.open("rb") as stream:
        return stream.read(132)[128:132] == b"DICM"


def read_information(path: str | Path, unreadable: str = "cannot be read as an image") -> sitk.ImageFileReader:
    """A reader holding ``path``'s header (size, spacing, metadata) without its voxels; an unreadable file
    raises :class:`InputImageError` saying ``unreadable`` and why."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise InputImageError(path, f"{unreadable} ({itk_error_summary(error)})") from error
    return reader


def _series_uid_of(path: Path) -> str | None:
    reader = read_information(path, "is not a readable DICOM file")
    uid = reader.GetMetaData("0020|000e").strip() if reader.HasMetaDataKey("0020|000e") else ""
    return uid or None


def write_image(image: sitk.Image, path: str | Path, compress: bool = True) -> Path:
    """Write ``image`` to ``path`` (format from the suffix), atomically: all or nothing."""
    path = Path(path)
    if full_suffix(path) not in WRITE_SUFFIXES:
        raise ValueError(f"{path}: unsupported output format; use one of {', '.join(WRITE_SUFFIXES)}")
    with atomic_output(path) as temporary:
        sitk.WriteImage(image, str(temporary), compress)
    return path
