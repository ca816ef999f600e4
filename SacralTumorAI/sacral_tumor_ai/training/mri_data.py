"""Training data for the 2.5D MRI models: the inference preprocessing, cached, then slice sampling and
augmentation (seed 2: 12 slices per patient, some with tumour, random crops, flips, shift, scale, rotation).

Each cached case holds the normalised volume(s) on the model grid (exactly as inference prepares them), the
coarse labels, and ``known``: where the tumour annotation is complete (see :func:`known_mask`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from sacral_tumor_ai.ctseg.preprocess import labels_to_grid
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, TUMOR
from sacral_tumor_ai.mriseg.context import stack_context
from sacral_tumor_ai.mriseg.prepare import mri_grid, sequence_on_grid
from sacral_tumor_ai.mriseg.registration import register
from sacral_tumor_ai.mriseg.spec import MriModelSpec

FUSION = "fusion"


FOOTPRINT_MARGIN_MM = 10.0


def known_mask(label: sitk.Image, labelled_slices: list[int] | None, margin_mm: float | None = FOOTPRINT_MARGIN_MM) -> sitk.Image:
    """1 where the tumour annotation is complete, on the label's own grid.

    The labelled slices (the largest tumour slice +-5) are complete. Off them, the tumour can only continue
    inside its footprint: the drawn slices include the largest cross-section, so a voxel farther than
    ``margin_mm`` in-plane from every drawn tumour voxel is known background there. Without this, nothing
    in the loss says "no tumour" on the unlabelled slices, and the model learns to call bright fluid and fat
    tumour wherever it is far from the drawn slab. ``margin_mm=None`` keeps the labelled slices only.
    """
    labels = sitk.GetArrayViewFromImage(label)
    known = np.zeros(labels.shape, np.uint8)
    if labelled_slices:
        first, last = labelled_slices[0], labelled_slices[1] + 1
        if margin_mm is not None:
            footprint = (labels[first:last] == TUMOR.value).any(axis=0)
            if footprint.any():
                spacing = label.GetSpacing()
                distance = ndimage.distance_transform_edt(~footprint, sampling=(spacing[1], spacing[0]))
                known[:] = distance > margin_mm
        known[first:last] = 1
    image = sitk.GetImageFromArray(known)
    image.CopyInformation(label)
    return image


def _sources(item: dict[str, Any], sequence: str) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """(the (sequence, image file) inputs, the entry whose label and labelled slices are the target)."""
    sequences = item.get("sequences")
    if not sequences:
        raise SacralTumorAIError(f"{item.get('case_id', '?')}: not an MRI data-list item (no 'sequences')")
    if sequence == FUSION:
        return [("t2", sequences["t2"]["image"]), ("cet1", sequences["cet1"]["image"])], sequences["t2"]
    return [(sequence, sequences[sequence]["image"])], sequences[sequence]


def cache_mri_case(
    item: dict[str, Any], sequence: str, spec: MriModelSpec, cache: Path, registration: str = "affine", margin_mm: float | None = FOOTPRINT_MARGIN_MM
) -> dict[str, Any]:
    """Prepare one (case, sequence) pair, or the (case, T2 + registered CET1) pair for ``sequence="fusion"``,
    or reuse its cache; returns image (C, z, y, x), label (z, y, x) and known (z, y, x) (see
    :func:`known_mask` for ``margin_mm``)."""
    case_id = item.get("case_id") or Path(item["label"]).name.split(".")[0]
    footprint = "slab" if margin_mm is None else f"footprint{margin_mm:g}mm"
    path = cache / f"{case_id}_{sequence}_{footprint}.npz"
    if not path.exists():
        inputs, target = _sources(item, sequence)
        reference = read_image(inputs[0][1])
        grid = mri_grid(reference, spec).grid
        volumes = [sequence_on_grid(reference, grid)]
        for _, file in inputs[1:]:
            volumes.append(sequence_on_grid(register(reference, read_image(file), registration).image, grid))
        label = read_image(target["label"])
        cache.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.stem}.partial.npz")
        np.savez(
            temporary, image=np.stack(volumes).astype(np.float16), label=labels_to_grid(label, grid),
            known=labels_to_grid(known_mask(label, target.get("labelled_slices"), margin_mm), grid),
        )
        temporary.replace(path)
    with np.load(path) as data:
        return {"case_id": case_id, "sequence": sequence, "image": data["image"], "label": data["label"], "known": data["known"].astype(bool)}


def sample_slices(case: dict[str, Any], count: int, tumour_share: float, rng: np.random.Generator) -> np.ndarray:
    """``count`` slice indices: about ``tumour_share`` from the labelled slices showing tumour, the rest from
    all slices (seed 2: "some with tumour, some without")."""
    depth = case["label"].shape[0]
    tumour = np.flatnonzero(((case["label"] == TUMOR.value) & case["known"]).any(axis=(1, 2)))
    with_tumour = int(round(count * tumour_share)) if tumour.size else 0
    return np.concatenate([rng.choice(tumour, with_tumour), rng.choice(depth, count - with_tumour)]).astype(int)


def _crop_start(size: int, crop: int, centre: float | None, rng: np.random.Generator) -> int:
    if size <= crop:
        return 0
    if centre is None:
        return int(rng.integers(0, size - crop + 1))
    low, high = max(0, int(centre) - crop + 1), min(size - crop, int(centre))
    return int(rng.integers(low, high + 1)) if high >= low else int(rng.integers(0, size - crop + 1))


def crop_batch(images: np.ndarray, labels: np.ndarray, known: np.ndarray, crop: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random ``crop`` x ``crop`` windows (padded when the slice is smaller); a slice with tumour gets a window
    holding the tumour's centre. images (N, C, y, x), labels and known (N, y, x)."""
    count, channels, height, width = images.shape
    out_images = np.full((count, channels, crop, crop), images.min(), np.float32)
    out_labels = np.zeros((count, crop, crop), np.uint8)
    out_known = np.zeros((count, crop, crop), bool)
    for n in range(count):
        tumour = np.argwhere(labels[n] == TUMOR.value)
        centre = tumour.mean(axis=0) if len(tumour) else (None, None)
        y0, x0 = _crop_start(height, crop, centre[0], rng), _crop_start(width, crop, centre[1], rng)
        window = (slice(y0, y0 + crop), slice(x0, x0 + crop))
        piece = images[n][(slice(None), *window)]
        out_images[n, :, : piece.shape[1], : piece.shape[2]] = piece
        out_labels[n, : piece.shape[1], : piece.shape[2]] = labels[n][window]
        out_known[n, : piece.shape[1], : piece.shape[2]] = known[n][window]
    return out_images, out_labels, out_known


def patient_batch(cases: list[dict[str, Any]], count: int, tumour_share: float, context: int, crop: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training step's batch: ``count`` slices of one patient, spread evenly over ``cases`` (its
    sequences for the All-sequence model, each on its own grid), stacked with their neighbours and cropped.

    Mixing the sequences in every batch keeps BatchNorm's batch statistics those of all sequences together,
    which is what its running averages hold at inference. With one sequence per batch, the network trained on
    each sequence's own statistics but was tested with a blend of the last few batches' sequences.
    """
    parts = []
    for case, share in zip(cases, np.array_split(np.arange(count), len(cases))):
        slices = sample_slices(case, len(share), tumour_share, rng)
        stacked = stack_context([v.astype(np.float32) for v in case["image"]], context, slices)
        parts.append(crop_batch(stacked, case["label"][slices], case["known"][slices], crop, rng))
    images, labels, known = (np.concatenate(arrays) for arrays in zip(*parts))
    return images, labels, known


def flip_left_right(images, labels, known):
    """Mirror a torch batch left-right; the hip-bone labels are swapped so the left hip stays the patient's left."""
    labels = labels.flip(-1)
    swapped = labels.clone()
    swapped[labels == HIP_LEFT.value], swapped[labels == HIP_RIGHT.value] = HIP_RIGHT.value, HIP_LEFT.value
    return images.flip(-1), swapped, known.flip(-1)


def _where(chosen, a, b):
    import torch

    return tuple(torch.where(chosen.view(-1, *([1] * (x.ndim - 1))), x, y) for x, y in zip(a, b))


def augment(images, labels, known, rng: np.random.Generator, max_degrees: float = 15.0, scale: float = 0.15, shift: float = 0.1):
    """Seed 2's patch augmentation on a torch batch: left-right flip (see :func:`flip_left_right`),
    anterior-posterior flip, rotation, scaling, shift, and intensity jitter."""
    import torch
    import torch.nn.functional as F

    count = images.shape[0]
    batch = (images, labels, known)
    batch = _where(torch.from_numpy(rng.random(count) < 0.5), flip_left_right(*batch), batch)
    batch = _where(torch.from_numpy(rng.random(count) < 0.2), tuple(x.flip(-2) for x in batch), batch)
    images, labels, known = batch

    angles = np.radians(rng.uniform(-max_degrees, max_degrees, count))
    scales = rng.uniform(1 - scale, 1 + scale, count)
    theta = np.zeros((count, 2, 3), np.float32)
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(angles) / scales, -np.sin(angles) / scales
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(angles) / scales, np.cos(angles) / scales
    theta[:, :, 2] = rng.uniform(-shift, shift, (count, 2)) * 2
    grid = F.affine_grid(torch.from_numpy(theta), list(images.shape), align_corners=False)
    background = images.amin(dim=(1, 2, 3), keepdim=True)
    images = F.grid_sample(images - background, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + background
    stacked = F.grid_sample(torch.stack([labels.float(), known.float()], dim=1), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    labels, known = stacked[:, 0].long(), stacked[:, 1] > 0.5
    gain = torch.from_numpy(rng.uniform(0.9, 1.1, (count, 1, 1, 1)).astype(np.float32))
    offset = torch.from_numpy(rng.uniform(-0.1, 0.1, (count, 1, 1, 1)).astype(np.float32))
    return images * gain + offset, labels, known
