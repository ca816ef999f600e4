"""DICOM SEG export with highdicom: the project's labelmap as a binary segmentation of its source series.

A DICOM SEG must reference the images it segments. When the image was read from a DICOM series, those are
its files; when it came from NIfTI or NRRD there are none, so the image is first written as a new DICOM
series (a new, anonymous study, as Slicer's DICOM export does for non-DICOM volumes) and the SEG references
that. Everything goes into a temporary folder that replaces the target only when complete.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai import __version__
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.labels import LABELS, Label

SEG_FILE = "segmentation.dcm"
IMAGE_FOLDER = "image"
_STORAGE = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4"}  # CT / MR Image Storage
_POSITION_TOLERANCE_MM = 0.05


@dataclass(frozen=True)
class DicomSegExport:
    """What ``write_dicom_seg`` wrote: the SEG file, the image files it references (written here only when
    the image had no DICOM source), and the referenced series."""

    seg_file: Path
    written_image_files: list[Path]
    referenced_series_uid: str
    note: str = ""  # why the source files were not referenced, when they were given but unusable


def read_source_datasets(files: list[str | Path]):
    """The source series' datasets (pixel data included), sorted along the slice normal."""
    import pydicom

    datasets = [pydicom.dcmread(str(f)) for f in files]
    if not datasets:
        raise SacralTumorAIError("no DICOM source files were given for the DICOM SEG")
    for ds in datasets:
        # Some anonymisers blank the SOP class and instance in the dataset but keep them in the file meta;
        # the SEG's references need them (the files themselves are not changed).
        meta = getattr(ds, "file_meta", None)
        if not ds.get("SOPClassUID") and meta is not None and meta.get("MediaStorageSOPClassUID"):
            ds.SOPClassUID = meta.MediaStorageSOPClassUID
        if not ds.get("SOPInstanceUID") and meta is not None and meta.get("MediaStorageSOPInstanceUID"):
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    row, column = (np.array(v, float) for v in (datasets[0].ImageOrientationPatient[:3], datasets[0].ImageOrientationPatient[3:]))
    normal = np.cross(row, column)
    return sorted(datasets, key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))


_REFERENCE_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


def unreferenceable(datasets) -> str:
    """Why a SEG cannot reference these datasets ("" when it can): anonymisers sometimes blank the UIDs."""
    for key in _REFERENCE_UIDS:
        if any(not ds.get(key) for ds in datasets):
            return f"the source series has no {key} (anonymised?), so the DICOM SEG references a new series of the image instead"
    return ""


def _stored_pixels(image: sitk.Image) -> tuple[np.ndarray, float, float]:
    """int16 pixels with the rescale (slope, intercept) that gives the image's values back."""
    array = sitk.GetArrayFromImage(image)
    if np.issubdtype(array.dtype, np.integer) and array.min() >= -32768 and array.max() <= 32767:
        return array.astype(np.int16), 1.0, 0.0
    low, high = float(array.min()), float(array.max())
    slope = max(high - low, 1e-6) / 65535.0
    return np.round((array - low) / slope - 32768).astype(np.int16), slope, low + 32768 * slope


def _series_datasets(image: sitk.Image, modality: str, description: str):
    """One dataset per slice of ``image`` as CT or MR Image Storage, in a new anonymous study."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise SacralTumorAIError("a DICOM series can be written only from a 3D scalar image")
    pixels, slope, intercept = _stored_pixels(image)
    direction = np.array(image.GetDirection(), float).reshape(3, 3)
    spacing = image.GetSpacing()
    now = datetime.now()
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    datasets = []
    for k in range(pixels.shape[0]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = _STORAGE[modality]
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Anonymous^", "SacralTumorAI", "", ""
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate = ds.SeriesDate = now.strftime("%Y%m%d")
        ds.StudyTime = ds.SeriesTime = now.strftime("%H%M%S")
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 1, k + 1
        ds.SeriesDescription = description[:64]
        ds.Manufacturer, ds.PositionReferenceIndicator = "SacralTumorAI (converted from a non-DICOM file)", ""
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in image.TransformIndexToPhysicalPoint((0, 0, k))]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*direction[:, 0], *direction[:, 1])]
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[0]:.6f}"]  # row spacing (y), then column spacing (x)
        ds.SliceThickness = f"{spacing[2]:.6f}"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = pixels.shape[1], pixels.shape[2]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.10g}", f"{intercept:.10g}"
        if modality == "CT":
            ds.RescaleType, ds.KVP = "HU", ""
        else:
            ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "RM", "NONE", "3D"
        ds.PixelData = np.ascontiguousarray(pixels[k]).tobytes()
        datasets.append(ds)
    return datasets


def _check_grid(datasets, labelmap: sitk.Image) -> None:
    """The labelmap must lie on the source slices: same count, size and positions."""
    rows, columns = int(datasets[0].Rows), int(datasets[0].Columns)
    size = labelmap.GetSize()
    if (columns, rows, len(datasets)) != size:
        raise SacralTumorAIError(
            f"the segmentation's grid {size} is not that of the source series ({columns}, {rows}, {len(datasets)}); "
            "export it on the volume it was made on"
        )
    for k in (0, len(datasets) - 1):
        expected = np.array(labelmap.TransformIndexToPhysicalPoint((0, 0, k)))
        if np.abs(np.array(datasets[k].ImagePositionPatient, float) - expected).max() > _POSITION_TOLERANCE_MM:
            raise SacralTumorAIError(f"slice {k} of the segmentation does not lie on the source series' slice {k}")


def _description(label: Label, number: int):
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.sr.coding import Code

    def coded(code):
        return Code(code.value, code.scheme, code.meaning)

    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=label.display_name,
        segmented_property_category=coded(label.category),
        segmented_property_type=coded(label.type),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(name="SacralTumorAI", version=__version__, family=codes.cid7162.ArtificialIntelligence),
        tracking_id=label.name,
        tracking_uid=hd.UID(),
        display_color=hd.color.CIELabColor.from_rgb(*(255 * c for c in label.color)),
    )


def write_dicom_seg(
    labelmap: sitk.Image,
    out_folder: str | Path,
    image: sitk.Image | None = None,
    source_files: list[str | Path] | None = None,
    modality: str = "CT",
    description: str = "SacralTumorAI",
) -> DicomSegExport:
    """Write ``out_folder/segmentation.dcm`` (and ``out_folder/image/`` when there are no ``source_files``:
    ``image`` as a new series). The labelmap (the project's label values) must lie on the source grid.
    ``out_folder`` is replaced only when everything was written."""
    import highdicom as hd

    if source_files is None and image is None:
        raise SacralTumorAIError("a DICOM SEG needs the source DICOM files or the image to write as a series")
    out_folder = Path(out_folder)
    staging = out_folder.with_name(f".{out_folder.name}.partial-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        written: list[Path] = []
        datasets = read_source_datasets(source_files) if source_files else []
        note = unreferenceable(datasets) if datasets else ""
        if note and image is None:
            raise SacralTumorAIError(note.split(", so")[0] + ": give the image too, to write it as a new series")
        if not datasets or note:
            datasets = _series_datasets(image, modality, description)
            (staging / IMAGE_FOLDER).mkdir()
            for k, ds in enumerate(datasets):
                path = staging / IMAGE_FOLDER / f"{k + 1:04d}.dcm"
                ds.save_as(path, enforce_file_format=True)
                written.append(out_folder / IMAGE_FOLDER / path.name)
        _check_grid(datasets, labelmap)
        labels = sitk.GetArrayFromImage(labelmap)
        in_order = sorted(LABELS, key=lambda l: l.value)
        # Segment numbers must run 1..n: map the label values onto them in the table's value order.
        numbered = np.zeros(labels.shape, np.uint8)
        for number, label in enumerate(in_order, start=1):
            numbered[labels == label.value] = number
        seg = hd.seg.Segmentation(
            source_images=datasets,
            pixel_array=numbered,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=[_description(label, number) for number, label in enumerate(in_order, start=1)],
            series_instance_uid=hd.UID(),
            series_number=300,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer="SacralTumorAI",
            manufacturer_model_name="SacralTumorAI segmentation",
            software_versions=__version__,
            device_serial_number="0",
            series_description=f"{description} segmentation (research use only)"[:64],
        )
        seg.save_as(staging / SEG_FILE)
        if out_folder.exists():
            shutil.rmtree(out_folder)
        os.replace(staging, out_folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return DicomSegExport(out_folder / SEG_FILE, written, str(datasets[0].SeriesInstanceUID), note)
