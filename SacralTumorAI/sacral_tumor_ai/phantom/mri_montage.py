"""A PNG a person can judge an MRI case by: the four sequences, axial through the tumour, with the tumour
(red) and bone contours. DWI and CET1-w are resampled onto the T2-w grid for display only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.labels import LABELS
from sacral_tumor_ai.phantom.coarse import largest_tumour_slice
from sacral_tumor_ai.phantom.mri_contrast import SEQUENCES

TITLES = {"t1": "T1-w", "t2": "T2-w", "dwi": "DWI b=1000", "cet1": "CET1-w"}


def save_mri_montage(images: dict[str, sitk.Image], labelmap: sitk.Image, path: str | Path, title: str = "") -> Path:
    """Write a 1 x 4 grid (T1-w, T2-w, DWI, CET1-w) through the tumour's largest slice; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sitk.GetArrayFromImage(labelmap)
    z = largest_tumour_slice(labels)
    z = labels.shape[0] // 2 if z is None else z
    figure, axes = plt.subplots(1, len(SEQUENCES), figsize=(4 * len(SEQUENCES), 4.4), facecolor="black")
    for axis, sequence in zip(axes, SEQUENCES):
        on_grid = sitk.Resample(images[sequence], labelmap, sitk.Transform(), sitk.sitkLinear, 0.0)
        plane = sitk.GetArrayFromImage(on_grid)[z].astype(np.float32)
        axis.imshow(plane, cmap="gray", vmin=0, vmax=float(np.percentile(plane, 99.5)) or 1.0)
        for label in LABELS:
            if (labels[z] == label.value).any():
                axis.contour(labels[z] == label.value, levels=[0.5], colors=[label.color], linewidths=0.8)
        axis.set_title(TITLES[sequence], color="white")
        axis.axis("off")
    figure.suptitle(f"{title}  (axial slice {z}; research use, synthetic)", color="white")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80, facecolor="black")
    plt.close(figure)
    return path
