"""Tiny labelled CT-like volumes for exercising training and evaluation code quickly (not for accuracy)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR


def toy_case(seed: int, shape=(24, 40, 48), spacing=(4.0, 4.0, 4.0)) -> tuple[sitk.Image, sitk.Image]:
    """A body ellipsoid in air with two 'hip bones', a 'sacrum' between them and a tumour in one hip bone.

    Shape is z, y, x; LPS identity direction, so larger x is the patient's left.
    """
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]].astype(np.float32)
    centre = np.array(shape, np.float32) / 2 + rng.uniform(-1.5, 1.5, 3)
    body = ((z - centre[0]) / (shape[0] * 0.48)) ** 2 + ((y - centre[1]) / (shape[1] * 0.42)) ** 2 + ((x - centre[2]) / (shape[2] * 0.45)) ** 2 < 1
    hu = np.where(body, 40.0, -1000.0)
    labels = np.zeros(shape, np.uint8)
    offset = shape[2] * 0.25
    for value, side in ((HIP_LEFT.value, +1), (HIP_RIGHT.value, -1)):
        bone = (np.abs(x - (centre[2] + side * offset)) < 4) & (np.abs(y - centre[1]) < 8) & (np.abs(z - centre[0]) < 7)
        labels[bone] = value
    sacrum = (np.abs(x - centre[2]) < 3) & (np.abs(y - centre[1] - 5) < 4) & (np.abs(z - centre[0]) < 8)
    labels[sacrum] = SACRUM.value
    side = 1 if seed % 2 else -1
    tumour_centre = (centre[0] + rng.uniform(-2, 2), centre[1], centre[2] + side * offset)
    tumour = (z - tumour_centre[0]) ** 2 + (y - tumour_centre[1]) ** 2 + (x - tumour_centre[2]) ** 2 < rng.uniform(9, 20)
    labels[tumour] = TUMOR.value
    hu[np.isin(labels, (HIP_LEFT.value, HIP_RIGHT.value, SACRUM.value))] = 700.0
    hu[labels == TUMOR.value] = 60.0
    hu += rng.normal(0, 15, shape)
    image = sitk.GetImageFromArray(hu.astype(np.int16))
    image.SetSpacing(spacing)
    label_image = sitk.GetImageFromArray(labels)
    label_image.CopyInformation(image)
    return image, label_image


def write_toy_datalist(folder: Path, counts=(4, 2, 2), first_seed: int = 0, tumour_only: bool = False) -> Path:
    """Write toy cases and a MONAI-style datalist.json (training/validation/test) into ``folder``; with
    ``tumour_only`` the labels hold the tumour alone and the items say so (``"labelled": ["tumor"]``)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(exist_ok=True)
    datalist: dict[str, list] = {}
    seed = first_seed
    for split, count in zip(("training", "validation", "test"), counts):
        datalist[split] = []
        for _ in range(count):
            image, labels = toy_case(seed)
            case_id = f"toy{seed:03d}"
            sitk.WriteImage(image, str(folder / "images" / f"{case_id}_ct.nii.gz"))
            if tumour_only:
                labels = sitk.Cast(labels == TUMOR.value, sitk.sitkUInt8) * TUMOR.value
            sitk.WriteImage(labels, str(folder / "labels" / f"{case_id}.nii.gz"))
            item = {"case_id": case_id, "image": f"images/{case_id}_ct.nii.gz", "label": f"labels/{case_id}.nii.gz"}
            datalist[split].append({**item, "labelled": ["tumor"]} if tumour_only else item)
            seed += 1
    path = folder / "datalist.json"
    path.write_text(json.dumps(datalist, indent=2))
    return path


TINY_TRAINING = {
    "spacing": [4.0, 4.0, 4.0],
    "patch_size": [32, 32, 16],
    "init_filters": 4,
    "blocks_down": [1, 1, 1],
    "dsdepth": 2,
    "batch_size": 2,
    "samples_per_case": 2,
    "learning_rate": 0.01,
    "warmup_epochs": 0,
}


TOY_CLASSES = ["chordoma", "chondrosarcoma", "metastasis"]
TINY_CLASSIFIER = {
    "classes": TOY_CLASSES, "crop_size": [16, 16, 8], "init_features": 8, "growth_rate": 4, "block_config": [2, 2],
    "hidden": [16], "batch_size": 4, "learning_rate": 3e-3,
}


def add_toy_clinical(datalist: Path) -> Path:
    """Give every item of a toy data list a class, an age and a sex (cycling, so every split has each class)."""
    data = json.loads(datalist.read_text())
    for split in data.values():
        for index, item in enumerate(split):
            item.update({"class": TOY_CLASSES[index % 3], "age": 30.0 + 15 * (index % 3), "sex": "MF"[index % 2]})
    datalist.write_text(json.dumps(data))
    return datalist


def one_case_validation_cohort(folder: Path, settings=None) -> list[dict]:
    """One generated case (seed 5) whose data list holds it as the only validation case; returns its items."""
    from sacral_tumor_ai.phantom.case import ScanSettings
    from sacral_tumor_ai.phantom.cohort import write_cohort

    write_cohort(folder, 1, seed=5, settings=settings or ScanSettings(), montage=False, log=lambda _: None)
    datalist = json.loads((folder / "datalist.json").read_text())
    items = [item for split in datalist.values() for item in split]
    (folder / "datalist.json").write_text(json.dumps({"training": [], "validation": items, "test": []}))
    return items
