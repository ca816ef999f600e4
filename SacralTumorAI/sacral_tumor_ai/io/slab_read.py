"""Read a large NIfTI volume slab by slab, so that reading costs the image's own memory, not twice it.

ITK's NIfTI reader holds the file's voxel buffer and the image's buffer at once when it reads a whole volume
(a 1024 x 1024 x 900 int16 CT peaks at 3.8 GB). A region read streams only that region, for ``.nii`` and
``.nii.gz`` alike, and pasting a region into an image allocated once works in place. A ``.nii.gz`` region is
found by decompressing from the file's start, so a compressed file is read in a few large slabs: eight
(4.5 decompressions of the file in all). Four slabs (2.5 decompressions) took the 1024 x 1024 x 900 CT's whole
run to 3.96 GB, within 0.04 GB of its 4 GB target, because a slab is held twice while it is read and pasted;
eight take it to 3.49 GB, in 57.6 s instead of 50.5 s (benchmarks/bench_ct_segmentation.py --huge --compressed,
CT model v0.4.1).
"""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

# Volumes above this size are read in slabs; below it the plain read's extra copy is cheap.
LARGE_VOLUME_BYTES = 512 << 20
SLAB_BYTES = 128 << 20
COMPRESSED_SLABS = 8


def pixel_bytes(pixel_id: int) -> int:
    """Bytes per voxel of a SimpleITK pixel type (all components)."""
    probe = sitk.Image([1, 1, 1], pixel_id)
    return probe.GetSizeOfPixelComponent() * probe.GetNumberOfComponentsPerPixel()


def slab_slices(size: tuple[int, ...], pixel_id: int, slab_bytes: int) -> int:
    """How many whole slices (along the last axis) of a volume of ``size`` fit in ``slab_bytes``; at least one."""
    return max(1, slab_bytes // (size[0] * size[1] * pixel_bytes(pixel_id)))


def read_in_slabs(reader: sitk.ImageFileReader, slab_bytes: int = SLAB_BYTES) -> sitk.Image:
    """The whole 3D volume of ``reader`` (whose information is read), assembled from slabs of at most
    ``slab_bytes`` along the last axis, with the header's geometry and metadata."""
    size = reader.GetSize()
    image = sitk.Image(size, reader.GetPixelID())
    image.SetOrigin(reader.GetOrigin())
    image.SetSpacing(reader.GetSpacing())
    image.SetDirection(reader.GetDirection())
    for key in reader.GetMetaDataKeys():
        image.SetMetaData(key, reader.GetMetaData(key))
    slices = slab_slices(size, reader.GetPixelID(), slab_bytes)
    for first in range(0, size[2], slices):
        count = min(slices, size[2] - first)
        reader.SetExtractIndex([0, 0, first])
        reader.SetExtractSize([size[0], size[1], count])
        image[:, :, first : first + count] = reader.Execute()  # PasteImageFilter, in place
    return image


def large_volume_slab_bytes(path: Path, reader: sitk.ImageFileReader) -> int | None:
    """Bytes per slab for reading ``path`` (its ``reader`` holding the header) in slabs; None when it is not a
    large 3D scalar NIfTI volume, which a plain read handles. A compressed file gets a few large slabs."""
    size = reader.GetSize()
    scalar_3d = reader.GetDimension() == 3 and reader.GetNumberOfComponents() == 1
    nifti = path.name.lower().endswith((".nii", ".nii.gz"))
    volume_bytes = size[0] * size[1] * size[2] * pixel_bytes(reader.GetPixelID()) if scalar_3d and nifti else 0
    if volume_bytes <= LARGE_VOLUME_BYTES:
        return None
    compressed = path.name.lower().endswith(".gz")
    return max(SLAB_BYTES, -(-volume_bytes // COMPRESSED_SLABS)) if compressed else SLAB_BYTES


def read_nifti(path: Path) -> sitk.Image:
    """A NIfTI file read whole, in slabs when it is a large 3D scalar volume."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    slab_bytes = large_volume_slab_bytes(path, reader)
    return reader.Execute() if slab_bytes is None else read_in_slabs(reader, slab_bytes)
