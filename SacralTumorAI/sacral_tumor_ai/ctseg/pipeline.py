"""The NCCT segmentation pipeline: CT in, tumour + hip bones + sacrum labelmap out, in the CT's geometry."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.ctseg.inference import predict_labels
from sacral_tumor_ai.ctseg.postprocess import postprocess_labels
from sacral_tumor_ai.ctseg.preprocess import prepare_ct
from sacral_tumor_ai.ctseg.providers import get_provider, replace_bones
from sacral_tumor_ai.ctseg.resample_back import labels_onto_region
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.errors import AnatomyNotFoundError
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, LABELS, TUMOR
from sacral_tumor_ai.modality import CT, require_modality
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.models.package import ModelPackage
from sacral_tumor_ai.progress import Progress

# Less hip bone than this in view means the scan does not show the pelvis (an adult hip bone is 200-500 mL).
MIN_HIP_BONE_ML = 20.0


@dataclass
class CTSegmentation:
    """A segmentation result in the input's geometry, with what a user needs to judge it."""

    labelmap: sitk.Image
    volumes_ml: dict[str, float]
    tumor_found: bool
    provider: str
    model: dict[str, str]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "tumor_found": self.tumor_found,
            "volumes_ml": self.volumes_ml,
            "provider": self.provider,
            "model": self.model,
            "timings_s": self.timings_s,
            "warnings": self.warnings,
        }


def label_volumes_ml(labelmap: sitk.Image) -> dict[str, float]:
    counts = np.bincount(sitk.GetArrayViewFromImage(labelmap).ravel(), minlength=256)
    voxel_ml = float(np.prod(labelmap.GetSpacing())) / 1000.0
    return {label.name: round(float(counts[label.value]) * voxel_ml, 3) for label in sorted(LABELS, key=lambda l: l.value)}


def segment_ct(
    image: sitk.Image,
    package: ModelPackage,
    bone_provider: str = "model",
    device: str = "cpu",
    progress: Progress | None = None,
    source: str = "input",
) -> CTSegmentation:
    """Segment a noncontrast CT. Raises ``ModalityError`` for MR, ``AnatomyNotFoundError`` without a pelvis,
    ``CancelledError`` when cancelled; an empty tumour is reported, never invented."""
    progress = progress or Progress()
    provider = get_provider(bone_provider)
    provider.require()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    require_modality(image, CT, source)
    spec = CTModelSpec.from_metadata(package.metadata)
    progress.step(0.02, "preparing the CT")
    prepared = prepare_ct(image, spec)
    timings["preprocess"] = time.perf_counter() - start

    mark = time.perf_counter()
    progress.step(0.1, "loading the model")
    network = load_network(package, device)
    raw = predict_labels(network, prepared.channels, spec, device, progress)
    timings["network"] = time.perf_counter() - mark

    mark = time.perf_counter()
    progress.step(0.85, "post-processing")
    values = spec.label_values()
    cleaned = sitk.GetImageFromArray(postprocess_labels(raw, values))
    cleaned.CopyInformation(prepared.grid)
    labelmap = labels_onto_region(cleaned, image, prepared.body, values)
    if provider.segment is not None:
        progress.step(0.9, f"hip bones by {provider.name}")
        labelmap = replace_bones(labelmap, provider.segment(image))
    timings["postprocess"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start

    volumes = label_volumes_ml(labelmap)
    hips = volumes[HIP_LEFT.name] + volumes[HIP_RIGHT.name]
    if hips < MIN_HIP_BONE_ML:
        raise AnatomyNotFoundError(
            f"{source}: no pelvis in the field of view (hip bones found: {hips:.1f} mL); the model needs a CT "
            "showing the pelvis"
        )
    warnings = []
    tumor_found = volumes[TUMOR.name] > 0
    if not tumor_found:
        warnings.append("no tumour found by the model; draw it by hand if one is present")
    for label in (HIP_LEFT, HIP_RIGHT):
        if volumes[label.name] < MIN_HIP_BONE_ML:
            warnings.append(f"{label.display_name.lower()} is small or missing ({volumes[label.name]:.1f} mL)")
    progress.step(1.0, "done")
    return CTSegmentation(
        labelmap=labelmap,
        volumes_ml=volumes,
        tumor_found=tumor_found,
        provider=provider.name,
        model={"name": package.name, "version": package.version},
        timings_s={key: round(value, 3) for key, value in timings.items()},
        warnings=warnings,
    )
