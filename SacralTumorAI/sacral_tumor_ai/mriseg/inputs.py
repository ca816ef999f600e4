"""Reading an MRI study's sequences, including a DWI with several b-values, as a 4D file or as one DICOM series
(b = 1000 or the highest is kept, and the choice is said)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.errors import InputImageError, SacralTumorAIError
from sacral_tumor_ai.io import read_image, validate_image
from sacral_tumor_ai.io.dicom_series import split_by_b_value
from sacral_tumor_ai.io.image_io import IMAGE_SUFFIXES, find_dicom_series, read_found_series, read_information
from sacral_tumor_ai.io.atomic import full_suffix
from sacral_tumor_ai.mriseg.spec import SEQUENCE_NAMES, SEQUENCES

WANTED_B = 1000.0


def b_values_beside(path: Path) -> list[float] | None:
    """FSL's ``.bval`` file next to a NIfTI (same stem), as numbers; None when absent."""
    stem = path.name[: -len(full_suffix(path))]
    for candidate in (path.with_name(f"{stem}.bval"), path.with_name(f"{stem}.bvals")):
        if candidate.is_file():
            try:
                return [float(v) for v in candidate.read_text().split()]
            except ValueError as error:
                raise InputImageError(candidate, f"is not a list of b-values ({error})") from error
    return None


def choose_b_volume(b_values: list[float] | None, volumes: int) -> tuple[int, str]:
    """(index of the volume to use, why): b = 1000 when acquired, else the highest b; without b-values the
    last volume (scanners store the highest b last)."""
    if b_values is None:
        return volumes - 1, f"no b-values found beside the file: using the last of its {volumes} volumes, assumed to be the highest b"
    if len(b_values) != volumes:
        raise SacralTumorAIError(f"the DWI has {volumes} volumes but {len(b_values)} b-values")
    values = np.asarray(b_values)
    close = np.flatnonzero(np.abs(values - WANTED_B) <= 50)
    if close.size:
        return int(close[-1]), f"DWI with several b-values: using b = {values[close[-1]]:g} (of b = {', '.join(f'{v:g}' for v in values)})"
    index = int(np.argmax(values))
    return index, f"DWI without b = 1000: using the highest, b = {values[index]:g} (of b = {', '.join(f'{v:g}' for v in values)})"


def is_multi_volume_file(path: str | Path) -> bool:
    """Whether ``path`` is an image file (not DICOM) holding several 3D volumes: of this product's inputs,
    a DWI with several b-values."""
    return _multi_volume_size(Path(path)) is not None


def _multi_volume_size(path: Path) -> tuple[int, ...] | None:
    """The 4D size of an image file holding several volumes (its header only), else None."""
    if not (path.is_file() and full_suffix(path) in IMAGE_SUFFIXES):
        return None
    size = read_information(path).GetSize()
    return size if len(size) == 4 and size[3] > 1 else None


def read_dwi(path: str | Path, series: str | None = None) -> tuple[sitk.Image, str | None]:
    """A DWI volume, and a note on the b-value chosen (:func:`choose_b_volume`) when the input holds several:
    a 4D file, or a DICOM series of several b-values (told apart by their b-value tags)."""
    image, note, _ = read_dwi_and_sources(path, series)
    return image, note


def read_dwi_and_sources(path: str | Path, series: str | None = None) -> tuple[sitk.Image, str | None, list[str]]:
    """:func:`read_dwi`, and the DICOM files of the chosen volume (empty for other formats), as
    ``read_image_and_sources`` gives them for a DICOM SEG's references."""
    path = Path(path)
    found = find_dicom_series(path, series)
    if found is not None:
        folder, chosen = found
        groups = split_by_b_value(chosen)
        note = None
        if len(groups) >= 2:
            b_values = list(groups)
            index, note = choose_b_volume(b_values, len(b_values))
            chosen = groups[b_values[index]]
        return read_found_series(folder, chosen), note, [str(Path(f).resolve()) for f in chosen.files]
    size = _multi_volume_size(path)
    if size is not None:
        index, note = choose_b_volume(b_values_beside(path), size[3])
        image = sitk.Extract(sitk.ReadImage(str(path)), [*size[:3], 0], [0, 0, 0, index])
        validate_image(image, path)
        return image, note, []
    return read_image(path), None, []


def read_sequences(files: dict[str, str | Path], series: str | None = None) -> tuple[dict[str, sitk.Image], list[str]]:
    """Each named sequence's image, and notes on choices made while reading."""
    images, notes = {}, []
    for sequence, file in files.items():
        if sequence not in SEQUENCES:
            raise SacralTumorAIError(f"unknown MRI sequence '{sequence}'; use {', '.join(SEQUENCES)}")
        if sequence == "dwi":
            images[sequence], note = read_dwi(file, series)
            if note:
                notes.append(f"{SEQUENCE_NAMES[sequence]}: {note}")
        else:
            images[sequence] = read_image(file, series=series)
    return images, notes
