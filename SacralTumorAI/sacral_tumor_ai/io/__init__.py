"""Reading, checking and writing images and DICOM series, with geometry kept exact."""

from sacral_tumor_ai.io.atomic import atomic_output, write_json
from sacral_tumor_ai.io.dicom_series import DicomSeries, list_dicom_series
from sacral_tumor_ai.io.image_io import IMAGE_SUFFIXES, WRITE_SUFFIXES, read_image, write_image
from sacral_tumor_ai.io.validate import validate_image

__all__ = [
    "DicomSeries",
    "IMAGE_SUFFIXES",
    "WRITE_SUFFIXES",
    "atomic_output",
    "write_json",
    "list_dicom_series",
    "read_image",
    "validate_image",
    "write_image",
]

from sacral_tumor_ai.io.seg_nrrd import read_seg_nrrd, write_seg_nrrd  # noqa: E402

__all__ += ["read_seg_nrrd", "write_seg_nrrd"]
