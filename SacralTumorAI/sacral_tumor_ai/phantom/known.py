"""Generated pelvis labelmaps with tumours placed by hand (known geometry), for tests and benchmarks."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.labels import TUMOR
from sacral_tumor_ai.phantom.anatomy import Pelvis
from sacral_tumor_ai.phantom.case import ScanSettings, case_rng, sample_patient
from sacral_tumor_ai.phantom.ct import compute_fields, render
from sacral_tumor_ai.phantom.grid import Grid
from sacral_tumor_ai.phantom.pose import Pose


def pelvis_labelmap(seed: int, spheres: list[tuple[float, float, float, float]] = (), spacing: float = 2.0) -> tuple[sitk.Image, Pelvis]:
    """Labels of a generated pelvis in the identity pose (world = patient frame, LPS mm), with tumour
    ``spheres`` (x, y, z, radius in mm) painted over everything; the field of view holds the whole pelvis."""
    rng = case_rng(seed, 0)
    patient = sample_patient(rng, ScanSettings())
    size = (int(400 / spacing), int(360 / spacing), int(330 / spacing))
    grid = Grid.around(size, (spacing,) * 3, (0.0, 0.0, -20.0))
    fields = compute_fields(grid, Pose.identity(), patient.pelvis, patient.body, None, rng)
    _, labels = render(fields, None, rng, patient.age, grid.spacing, 10.0)
    image = sitk.GetImageFromArray(labels)
    image.SetSpacing(grid.spacing)
    image.SetOrigin(grid.origin)
    k, j, i = np.indices(labels.shape)
    x, y, z = (grid.origin[a] + index * spacing for a, index in enumerate((i, j, k)))
    for cx, cy, cz, radius in spheres:
        labels[(x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 < radius**2] = TUMOR.value
    out = sitk.GetImageFromArray(labels)
    out.CopyInformation(image)
    return out, patient.pelvis
