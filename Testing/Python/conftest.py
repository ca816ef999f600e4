"""Shared fixtures: the real public scans in ../shared/data and small synthetic images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data" / "totalsegmentator-examples"


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need ../shared beside the repository (see README.md)")
    return path


@pytest.fixture(scope="session")
def real_ct_path() -> Path:
    return _shared("example_ct.nii.gz")


@pytest.fixture(scope="session")
def real_mr_path() -> Path:
    return _shared("example_mr_sm.nii.gz")


@pytest.fixture(scope="session")
def dicom_folder() -> Path:
    return _shared("example_ct_dicom")


@pytest.fixture(scope="session")
def mri_study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated MRI study (chordoma): t1, t2, dwi, cet1 files, and the fine labels on T2-w and DWI.
    Held out by construction: the bundled models were trained on cohort seed 31."""
    from sacral_tumor_ai.io import write_image
    from sacral_tumor_ai.phantom.case import ScanSettings
    from sacral_tumor_ai.phantom.mri import generate_mri_case

    case = generate_mri_case(97, 2, ScanSettings(in_plane_mm=(1.4, 1.5), slice_mm=(4.0, 5.0)), class_name="chordoma")
    folder = tmp_path_factory.mktemp("mri-study")
    files = {s: write_image(image, folder / f"{s}.nii.gz") for s, image in case.images.items()}
    files["label_t2"] = write_image(case.labelmap, folder / "label_t2.nii.gz")
    files["label_dwi"] = write_image(case.sequence_labels["dwi"], folder / "label_dwi.nii.gz")
    return files


def write_4d_dwi(study: dict[str, Path], path: Path, b_values: str | None = "0 1000") -> Path:
    """The study's DWI as a 4D file: a b = 0 volume (its T2-w on the DWI grid), then b = 1000; ``b_values``
    are written beside it as FSL's ``.bval`` (None: no b-values file)."""
    dwi = sitk.ReadImage(str(study["dwi"]))
    b0 = sitk.Cast(sitk.Resample(sitk.ReadImage(str(study["t2"])), dwi), dwi.GetPixelID())
    sitk.WriteImage(sitk.JoinSeries([b0, dwi]), str(path))
    if b_values is not None:
        path.with_name(path.name.split(".")[0] + ".bval").write_text(b_values + "\n")
    return path


def write_dwi_series(folder: Path, b_values: tuple[float, ...], private: bool = False) -> None:
    """An MR DWI series with every b-value at each of 6 positions, interleaved as scanners store them;
    voxel value = b-value / 10 + slice index. ``private``: only Siemens' b-value tag, as its DWI often has."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir()
    series = generate_uid()
    for number, (z, b) in enumerate([(z, b) for z in range(6) for b in b_values]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, meta.TransferSyntaxUID = MRImageStorage, generate_uid(), ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta, ds.SOPClassUID, ds.SOPInstanceUID = meta, MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.SeriesDescription = "MR", series, "1.2.3", "ep2d_diff"
        ds.ImagePositionPatient, ds.ImageOrientationPatient, ds.PixelSpacing, ds.SliceThickness = [0, 0, 4.0 * z], [1, 0, 0, 0, 1, 0], [2, 2], 4
        ds.Rows = ds.Columns = 32
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.InstanceNumber = 1, "MONOCHROME2", number + 1
        if private:
            ds.add_new(0x00190010, "LO", "SIEMENS MR HEADER")
            ds.add_new(0x0019100C, "IS", str(int(b)))
        else:
            ds.add_new(0x00189087, "FD", float(b))
        ds.PixelData = np.full((32, 32), b / 10 + z, np.uint16).tobytes()
        pydicom.dcmwrite(folder / f"{number:03d}.dcm", ds, enforce_file_format=True)


def oblique_direction(angle_degrees: float = 17.0) -> tuple[float, ...]:
    """A proper rotation about an oblique axis: exercises every element of the direction matrix."""
    axis = np.array([1.0, 2.0, 3.0]) / np.sqrt(14.0)
    angle = np.radians(angle_degrees)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross
    return tuple(rotation.ravel())


@pytest.fixture
def oblique_image() -> sitk.Image:
    """A small float image with anisotropic spacing, an odd origin and an oblique direction."""
    rng = np.random.default_rng(0)
    image = sitk.GetImageFromArray(rng.normal(0, 100, (7, 9, 11)).astype(np.float32))
    image.SetSpacing((0.7, 0.85, 2.5))
    image.SetOrigin((-101.25, 37.5, -812.125))
    image.SetDirection(oblique_direction())
    return image


def block_labelmap(reference: sitk.Image, omit: tuple[str, ...] = ()) -> sitk.Image:
    """Blocks of every label on ``reference``'s grid (the real CT), the tumour inside the left hip bone's
    block as it would invade bone; labels named in ``omit`` are left out."""
    from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR

    array = np.zeros(sitk.GetArrayViewFromImage(reference).shape, np.uint8)
    # The real CT is stored with direction diag(-1, -1, 1): small i is the patient's left.
    blocks = (
        (HIP_LEFT, (slice(40, 70), slice(30, 60), slice(20, 45))),
        (HIP_RIGHT, (slice(40, 70), slice(30, 60), slice(70, 95))),
        (SACRUM, (slice(30, 60), slice(50, 70), slice(52, 66))),
        (TUMOR, (slice(50, 62), slice(35, 48), slice(25, 38))),
    )
    for label, block in blocks:
        if label.name not in omit:
            array[block] = label.value
    labelmap = sitk.GetImageFromArray(array)
    labelmap.CopyInformation(reference)
    return labelmap
