"""A scan's voxels, held in memory or, for a large NIfTI file, read back from the file when needed.

A 1024 x 1024 x 900 CT takes 1.9 GB, and its labelmap 0.9 GB more. The whole volume is needed only to find the
body and resample it onto the model grid; after that the pipeline reads slabs (bone-edge refinement), a box
(the classifier's crop) and three planes (the preview). A :class:`Scan` opened from a large NIfTI file
therefore lets its voxels go (:meth:`Scan.release`) once the whole volume has been used, and answers those
reads from the file; the labelmap is then made without the scan beside it. Any other scan stays in memory and
answers the same calls from there, so the pipeline has one code path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.errors import InputImageError, itk_error_summary
from sacral_tumor_ai.geometry import Geometry
from sacral_tumor_ai.io.slab_read import large_volume_slab_bytes, read_in_slabs, slab_slices


class Scan:
    """A 3D scan: its geometry always, its voxels in memory until :meth:`release` (only a large NIfTI file's,
    see :func:`open_scan`). Arrays are z-y-x, as ``sitk.GetArrayViewFromImage`` gives them."""

    def __init__(self, image: sitk.Image, path: Path | None = None, slab_bytes: int | None = None) -> None:
        self._image: sitk.Image | None = image
        self.geometry = Geometry.of(image)
        self.pixel_id = image.GetPixelID()
        self._path = path
        self._slab_bytes = slab_bytes
        self._stamp = _stamp(path) if path is not None else None
        self._slab: tuple[int, int, sitk.Image] | None = None  # first and stop slice of the slab last read

    @classmethod
    def of(cls, image: sitk.Image | Scan) -> Scan:
        """``image`` itself if it is a scan, else a scan holding it in memory."""
        return image if isinstance(image, Scan) else cls(image)

    @property
    def in_memory(self) -> bool:
        return self._image is not None

    @property
    def image(self) -> sitk.Image:
        """The whole volume (read again from the file if it was released)."""
        if self._image is None:
            self._image = read_in_slabs(self._reader(), self._slab_bytes)
        return self._image

    def release(self) -> None:
        """Let the voxels (and the last slab read) go if the file can give them back; a scan without a file
        keeps them."""
        if self._path is not None:
            self._image, self._slab = None, None

    def transform_reference(self) -> sitk.Image:
        """A one-voxel image with this scan's origin, spacing and direction, for index <-> physical mapping."""
        reference = sitk.Image([1, 1, 1], sitk.sitkUInt8)
        self.geometry.apply_to(reference)
        return reference

    def slab(self, first: int, stop: int) -> np.ndarray:
        """Voxels of slices ``first`` to ``stop`` (a view: do not change it). From a released scan, slabs are
        read in ascending runs of at least ``slab_bytes``, so a compressed file is decompressed few times."""
        if self._image is not None:
            return sitk.GetArrayViewFromImage(self._image)[first:stop]
        if self._slab is None or not (self._slab[0] <= first and stop <= self._slab[1]):
            self._slab = None  # the old slab goes before the new one is read
            size = self.geometry.size
            slices = max(stop - first, slab_slices(size, self.pixel_id, self._slab_bytes))
            end = min(size[2], first + slices)
            self._slab = (first, end, self.region((0, 0, first), (size[0], size[1], end - first)))
        first_read, _, image = self._slab
        return sitk.GetArrayViewFromImage(image)[first - first_read : stop - first_read]

    def region(self, index: tuple[int, ...], size: tuple[int, ...]) -> sitk.Image:
        """The box of ``size`` voxels from ``index`` (i-j-k), with its geometry."""
        index, size = [int(v) for v in index], [int(v) for v in size]
        if self._image is not None:
            return sitk.RegionOfInterest(self._image, size, index)
        reader = self._reader()
        reader.SetExtractIndex(index)
        reader.SetExtractSize(size)
        try:
            return reader.Execute()
        except RuntimeError as error:
            raise InputImageError(self._path, f"cannot be read again ({itk_error_summary(error)})") from error

    def plane(self, axis: int, index: int) -> np.ndarray:
        """The 2D plane at ``index`` along array ``axis`` (0: k, 1: j, 2: i), the other two axes in order."""
        if self._image is not None:
            return np.take(sitk.GetArrayViewFromImage(self._image), index, axis=axis)
        start, size = [0, 0, 0], list(self.geometry.size)
        start[2 - axis], size[2 - axis] = index, 1
        return np.take(sitk.GetArrayFromImage(self.region(start, size)), 0, axis=axis)

    def _reader(self) -> sitk.ImageFileReader:
        if _stamp(self._path) != self._stamp:
            raise InputImageError(self._path, "changed on disk while it was being processed; run it again")
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(self._path))
        reader.ReadImageInformation()
        return reader


def _stamp(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def open_scan(path: str | Path, series: str | None = None) -> Scan:
    """The scan at ``path`` (file or DICOM folder, read and checked by ``read_image``); a large 3D NIfTI file
    (see ``slab_read``) can be released and read back, anything else stays in memory."""
    from sacral_tumor_ai.io.image_io import read_image, read_information

    path = Path(path)
    image = read_image(path, series)
    if not (path.is_file() and path.name.lower().endswith((".nii", ".nii.gz"))):
        return Scan(image)
    reader = read_information(path)
    slab_bytes = large_volume_slab_bytes(path, reader)
    if slab_bytes is None or tuple(reader.GetSize()) != tuple(image.GetSize()):
        return Scan(image)
    return Scan(image, path, slab_bytes)
