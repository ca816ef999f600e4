"""The MRI segmentation pipeline: one or more sequences in, tumour + hip bones + sacrum labelmap out, on the
reference sequence's exact grid. The same steps as the CT pipeline (model grid, network, seed 1's
post-processing, labels back onto the input grid), with 2.5D slices instead of 3D patches."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.ctseg.providers import get_provider
from sacral_tumor_ai.modality import MR, require_modality
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.models.package import ModelPackage
from sacral_tumor_ai.mriseg.inference import predict_probabilities
from sacral_tumor_ai.mriseg.plan import T2_FUSION, MriPlan
from sacral_tumor_ai.mriseg.prepare import mri_grid, sequence_on_grid
from sacral_tumor_ai.mriseg.registration import Registered, register
from sacral_tumor_ai.mriseg.spec import SEQUENCE_NAMES, MriModelSpec
from sacral_tumor_ai.progress import Progress
from sacral_tumor_ai.segmentation import Segmentation, labels_onto_input, measured_segmentation


@dataclass
class StudyCache:
    """Registrations and network outputs of one study, reused across calls (an evaluation segments the same
    study with many sequence combinations; each registration and each prediction is made once)."""

    registrations: dict[tuple[str, str, str], Registered] = field(default_factory=dict)
    probabilities: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)


def _aligned(images: dict[str, sitk.Image], plan: MriPlan, mode: str, progress: Progress, cache: StudyCache) -> tuple[dict[str, sitk.Image], dict[str, Any]]:
    """Every planned sequence on the reference sequence's grid (ANTs registration for the others)."""
    reference = images[plan.reference]
    aligned, facts = {plan.reference: reference}, {}
    for sequence in plan.sequences[1:]:
        key = (plan.reference, sequence, mode)
        if key not in cache.registrations:
            progress.step(0.05, f"registering {SEQUENCE_NAMES[sequence]} to {SEQUENCE_NAMES[plan.reference]}")
            cache.registrations[key] = register(reference, images[sequence], mode)
        aligned[sequence] = cache.registrations[key].image
        facts[sequence] = {"to": plan.reference, "mode": mode, "seconds": cache.registrations[key].seconds}
    return aligned, facts


def _probabilities(package: ModelPackage, spec: MriModelSpec, plan: MriPlan, aligned: dict[str, sitk.Image], grid: sitk.Image, device: str, progress: Progress, cache: StudyCache) -> np.ndarray:
    """Softmax output on the model grid: the fusion model on its input pair, or the All-sequence model's mean
    over the planned sequences. Inputs are prepared, and the network built, only for what is not cached."""
    network = None

    def predict(sequences: tuple[str, ...]) -> np.ndarray:
        nonlocal network
        network = network or load_network(package, device)
        volumes = [sequence_on_grid(aligned[s], grid) for s in sequences]
        return predict_probabilities(network, volumes, spec.context, device, progress=progress, fractions=(0.35, 0.85))

    if spec.is_fusion:
        return predict(spec.inputs)
    outputs = []
    for sequence in plan.sequences:
        key = (f"{package.name} {package.version}", plan.reference, sequence)
        if key not in cache.probabilities:
            cache.probabilities[key] = predict((sequence,))
        outputs.append(cache.probabilities[key])
    return outputs[0] if len(outputs) == 1 else np.mean(outputs, axis=0)


def segment_mri(
    images: dict[str, sitk.Image],
    package: ModelPackage,
    plan: MriPlan,
    device: str = "cpu",
    progress: Progress | None = None,
    sources: dict[str, str] | None = None,
    registration: str = "affine",
    cache: StudyCache | None = None,
    bone_provider: str = "model",
) -> Segmentation:
    """Segment ``plan.sequences`` of ``images`` with ``package`` (the T2-fusion package for a fusion plan, the
    All-sequence one otherwise). Raises ``ModalityError`` for a CT, ``AnatomyNotFoundError`` without a pelvis
    (both hip bones must be found: a pelvic MRI shows both, and the MRI models' stray bone voxels on other
    anatomy are one-sided), ``CancelledError`` when cancelled; an empty tumour is reported, never invented."""
    progress = progress or Progress()
    sources = sources or {}
    provider = get_provider(bone_provider)
    provider.require(MR)
    spec = MriModelSpec.from_metadata(package.metadata)
    if spec.is_fusion != (plan.model == T2_FUSION):
        raise ValueError(f"model {package.name} does not match the plan's {plan.model} model")
    timings, start = {}, time.perf_counter()
    for sequence in plan.sequences:
        require_modality(images[sequence], MR, sources.get(sequence, SEQUENCE_NAMES[sequence]))
    reference, name = images[plan.reference], sources.get(plan.reference, SEQUENCE_NAMES[plan.reference])
    grid = mri_grid(reference, spec, name)
    cache = cache if cache is not None else StudyCache()
    aligned, registrations = _aligned(images, plan, registration, progress, cache)
    timings["registration"] = time.perf_counter() - start

    mark = time.perf_counter()
    progress.step(0.3, "preparing the slices")
    probabilities = _probabilities(package, spec, plan, aligned, grid.grid, device, progress, cache)
    timings["network"] = time.perf_counter() - mark

    mark = time.perf_counter()
    progress.step(0.9, "post-processing")
    values = spec.label_values()
    raw = np.asarray(values, np.uint8)[np.argmax(probabilities, axis=0)]
    labelmap = labels_onto_input(raw, grid.grid, reference, grid.region, values, provider, progress)
    timings["postprocess"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start

    details = {"mri": {"model": plan.model, "reference": plan.reference, "sequences": list(plan.sequences), "registration": registrations}}
    result = measured_segmentation(labelmap, provider.name, package, timings, name, "an MRI", [*plan.notes, *grid.warnings], both_hips=True, details=details)
    progress.step(1.0, "done")
    return result
