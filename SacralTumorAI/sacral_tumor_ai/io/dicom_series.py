"""DICOM series discovery and reading (SimpleITK/GDCM), with an explicit choice when a folder holds several."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import SimpleITK as sitk

from sacral_tumor_ai.errors import InputImageError, itk_error_summary

# DICOM tags as SimpleITK names them.
TAG_MODALITY = "0008|0060"
TAG_SERIES_DESCRIPTION = "0008|103e"
TAG_SERIES_UID = "0020|000e"
TAG_POSITION = "0020|0032"
# A diffusion image's b-value: the standard attribute, then the private ones of Siemens, GE and Philips,
# whose DWI series often carry only those.
B_VALUE_TAGS = ("0018|9087", "0019|100c", "0043|1039", "2001|1003")
GE_B_VALUE_OFFSET = 1e9  # GE adds 10^9 to the b-value in some software versions


@dataclass(frozen=True)
class DicomSeries:
    """One image series found in a folder."""

    uid: str
    description: str
    modality: str
    files: tuple[str, ...]

    def label(self) -> str:
        uid = self.uid or "(no series UID)"
        return f"{uid}  '{self.description}'  {self.modality}  {len(self.files)} files"


def _header(path: str, private: bool = False) -> dict[str, str]:
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    if private:
        reader.LoadPrivateTagsOn()
    reader.ReadImageInformation()
    return {key: reader.GetMetaData(key).strip() for key in reader.GetMetaDataKeys()}


def list_dicom_series(folder: str | Path) -> list[DicomSeries]:
    """All DICOM image series directly inside ``folder`` (not its subfolders)."""
    folder = str(folder)
    series = []
    # GDCM prints a warning for folders without a series; the caller reports that case in plain words.
    warnings_were_shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        uids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder)
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warnings_were_shown)
    for uid in uids:
        files = tuple(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder, uid))
        if not files:
            continue
        header = _header(files[0])
        series.append(
            DicomSeries(
                uid=uid,
                description=header.get(TAG_SERIES_DESCRIPTION, ""),
                modality=header.get(TAG_MODALITY, ""),
                files=files,
            )
        )
    return series


def select_series(folder: str | Path, found: list[DicomSeries], choice: str | None) -> DicomSeries:
    """The series named by ``choice`` (a series UID or description), or the only one."""
    if not found:
        raise InputImageError(folder, "contains no DICOM image series")
    if choice is None:
        if len(found) == 1:
            return found[0]
        listing = "\n  ".join(s.label() for s in found)
        raise InputImageError(
            folder,
            f"contains {len(found)} DICOM series; choose one by series UID or description "
            f"(--series):\n  {listing}",
        )
    wanted = choice.strip().lower()
    matches = [s for s in found if wanted in (s.uid.lower(), s.description.lower())]
    if len(matches) != 1:
        listing = "\n  ".join(s.label() for s in found)
        problem = "matches no series" if not matches else f"matches {len(matches)} series"
        raise InputImageError(folder, f"'{choice}' {problem}; the folder holds:\n  {listing}")
    return matches[0]


def read_chosen_series(folder: str | Path, chosen: DicomSeries) -> sitk.Image:
    """Read a series found by :func:`list_dicom_series` in ``folder`` as a 3D image in LPS, with its DICOM
    Modality, description and UID kept as metadata. ``io.read_image(folder, series)`` chooses and checks it."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(list(chosen.files))
    reader.MetaDataDictionaryArrayUpdateOn()
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise InputImageError(folder, f"DICOM series could not be read: {itk_error_summary(error)}") from error
    _refuse_repeated_positions(folder, chosen, reader)
    # The modality tag is the authoritative CT/MR answer when present; keep it with the image.
    image.SetMetaData(TAG_MODALITY, chosen.modality)
    image.SetMetaData(TAG_SERIES_DESCRIPTION, chosen.description)
    image.SetMetaData(TAG_SERIES_UID, chosen.uid)
    return image


def _refuse_repeated_positions(folder: str | Path, chosen: DicomSeries, reader: sitk.ImageSeriesReader) -> None:
    # Several volumes in one series (b-values, echoes, time points) would read as one volume with its
    # slices interleaved and a wrong slice spacing, which GDCM only warns about.
    positions = [reader.GetMetaData(index, TAG_POSITION).strip() if reader.HasMetaDataKey(index, TAG_POSITION) else str(index) for index in range(len(chosen.files))]
    distinct = len(set(positions))
    if distinct < len(positions):
        raise InputImageError(
            folder,
            f"DICOM series '{chosen.description or chosen.uid}' holds {len(positions)} images at only {distinct} slice positions: "
            "several volumes stored as one series (diffusion b-values, echoes or time points). Save the volume to "
            "segment as its own series or as a NIfTI file (a DWI series with b-value tags is split by b-value).",
        )


def b_value_of(path: str) -> float | None:
    """A DICOM image's diffusion b-value (see ``B_VALUE_TAGS``); None when it has none."""
    header = _header(path, private=True)
    for tag in B_VALUE_TAGS:
        first = header.get(tag, "").split("\\")[0].strip()
        try:
            return float(first) % GE_B_VALUE_OFFSET
        except ValueError:
            continue
    return None


def split_by_b_value(series: DicomSeries) -> dict[float, DicomSeries]:
    """The series' files grouped by b-value, in the series' order (a DWI series often interleaves its
    b-values at each position, which would read as one volume with every slice repeated). Empty when any
    file has no b-value."""
    groups: dict[float, list[str]] = {}
    for path in series.files:
        value = b_value_of(path)
        if value is None:
            return {}
        groups.setdefault(value, []).append(path)
    return {value: replace(series, files=tuple(files)) for value, files in sorted(groups.items())}
