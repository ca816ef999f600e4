"""The NCCT segmentation pipeline: CT in, tumour + hip bones + sacrum labelmap out, in the CT's geometry."""

from __future__ import annotations

import time

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.ctseg.bone_edges import HALO_SLICES, refine_bone_edges
from sacral_tumor_ai.ctseg.inference import predict_labels_and_tumour
from sacral_tumor_ai.ctseg.postprocess import TUMOUR_MAX_GAP_MM, drop_tumour_far_from_pelvis, drop_unsure_tumour
from sacral_tumor_ai.ctseg.preprocess import METAL_HU, prepare_ct
from sacral_tumor_ai.ctseg.providers import get_provider
from sacral_tumor_ai.ctseg.resample_back import SlabRefinement
from sacral_tumor_ai.ctseg.spec import CTModelSpec, bone_values
from sacral_tumor_ai.ctseg.tumour_edges import refine_tumour_edges, soft_tissue_hounsfield
from sacral_tumor_ai.io.scan import Scan
from sacral_tumor_ai.labels import TUMOR
from sacral_tumor_ai.modality import CT, require_modality
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.models.package import ModelPackage
from sacral_tumor_ai.models.precision import inference_dtype
from sacral_tumor_ai.progress import Progress
from sacral_tumor_ai.segmentation import Segmentation, labels_onto_input, measured_segmentation

# Less metal than this is clips or a wire, whose streaks are faint; a hip prosthesis's head alone is 10-25 mL.
MIN_METAL_ML = 2.0


def _bone_edge_refinement(scan: Scan, spec: CTModelSpec, timings: dict[str, float]) -> SlabRefinement | None:
    """The model's bone-edge refinement of the resampled labels, slab by slab (None when the model has none);
    its time is added up in ``timings["bone_edges"]`` when the input was fine enough to be refined."""
    if spec.bone_edges is None:
        return None

    def refine(labels: np.ndarray, first: int) -> None:
        started = time.perf_counter()
        part = scan.slab(first, first + labels.shape[0])
        if refine_bone_edges(labels, part, scan.geometry.spacing, bone_values(spec), spec.bone_edges, spec.spacing):
            timings["bone_edges"] = timings.get("bone_edges", 0.0) + time.perf_counter() - started

    return SlabRefinement(refine, HALO_SLICES)


def segment_ct(
    image: sitk.Image | Scan,
    package: ModelPackage,
    bone_provider: str = "model",
    device: str = "cpu",
    progress: Progress | None = None,
    source: str = "input",
) -> Segmentation:
    """Segment a noncontrast CT. Raises ``ModalityError`` for MR, ``AnatomyNotFoundError`` without a pelvis,
    ``CancelledError`` when cancelled; an empty tumour is reported, never invented. A :class:`Scan` that can
    be read back from its file is released once the model's input is made (see ``io.scan``)."""
    progress = progress or Progress()
    provider = get_provider(bone_provider)
    provider.require()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    scan = Scan.of(image)
    require_modality(scan.image, CT, source)
    spec = CTModelSpec.from_metadata(package.metadata)
    progress.step(0.02, "preparing the CT")
    prepared = prepare_ct(scan.image, spec)
    scan.release()  # the whole volume is not needed again: the labelmap is made without it beside it
    timings["preprocess"] = time.perf_counter() - start

    mark = time.perf_counter()
    progress.step(0.1, "loading the model")
    network = load_network(package, device)
    raw, tumour_probability = predict_labels_and_tumour(network, prepared.channels, spec, device, progress)
    # The tumour-edge refinement reads the soft-tissue HU once the tumour pieces are chosen (below), as
    # calibrate-tumour-edges scores it; only that channel is kept past the network's input.
    hounsfield = soft_tissue_hounsfield(prepared.channels, spec.windows) if spec.tumour_edges is not None else None
    grid, body, metal_ml = prepared.grid, prepared.body, prepared.metal_ml
    del network, prepared  # the network's input goes before the labelmap is made
    timings["network"] = time.perf_counter() - mark

    mark = time.perf_counter()
    progress.step(0.85, "post-processing")
    spacing_zyx = tuple(reversed(grid.GetSpacing()))
    unsure = []
    if tumour_probability is not None:
        voxel_ml = float(np.prod(spacing_zyx)) / 1000.0
        raw, unsure, kept_ml = drop_unsure_tumour(raw, tumour_probability, spec.tumour_min_probability, voxel_ml)
        # Only the drops that changed the result are reported: the largest-piece rule removes smaller pieces
        # anyway, and a warning for them is noise.
        unsure = [piece for piece in unsure if piece[0] > kept_ml]
    raw, dropped_ml = drop_tumour_far_from_pelvis(raw, bone_values(spec), spacing_zyx)
    if hounsfield is not None:
        refine_tumour_edges(raw, tumour_probability, hounsfield, TUMOR.value, spec.tumour_edges)
    del tumour_probability, hounsfield
    refine = _bone_edge_refinement(scan, spec, timings) if provider.segment is None else None  # the model's own bones only
    labelmap = labels_onto_input(raw, grid, scan, body, spec.label_values(), provider, progress, refine, bones_through_tumour=True)
    scan.release()  # the refinement's last slab
    timings["postprocess"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start

    notes = [_unsure_tumour_note(unsure, spec.tumour_min_probability)] if unsure else []
    notes += ([_dropped_tumour_note(dropped_ml)] if dropped_ml else []) + ([_metal_note(metal_ml)] if metal_ml >= MIN_METAL_ML else [])
    details = {"inference": {"device": device, "precision": inference_dtype(device)}}  # bfloat16 labels differ slightly
    result = measured_segmentation(labelmap, provider.name, package, timings, source, "a CT", notes, details=details)
    progress.step(1.0, "done")
    return result


def _metal_note(metal_ml: float) -> str:
    """The warning for metal in the scan: its streaks mislead the model (see docs/ct-segmentation.md)."""
    return (
        f"metal in the scan ({metal_ml:.0f} mL above {METAL_HU:g} HU, such as a hip prosthesis): its streaks can be "
        "called tumour and can hide bone near it; check the masks there"
    )


def _unsure_tumour_note(pieces: list[tuple[float, float]], level: float) -> str:
    """One warning for the tumour pieces dropped as unsure: how much, and how close the surest came."""
    count = _amount([ml for ml, _ in pieces])
    surest = max(probability for _, probability in pieces)
    return (
        f"left out what the model called tumour with too little confidence ({count}; its tumour probability "
        f"reached {surest:.2f} at most, under this model's calibrated {level:.2f}): check the scan if a tumour is expected there"
    )


def _dropped_tumour_note(volumes_ml: list[float]) -> str:
    """One warning for all the tumour pieces dropped far from the pelvis (most are specks)."""
    pieces = _amount(volumes_ml)
    return (
        f"ignored what the model called tumour more than {TUMOUR_MAX_GAP_MM:.0f} mm from the hip bones and sacrum "
        f"({pieces}): this model is for tumours of the sacrum and pelvis"
    )


def _amount(volumes_ml: list[float]) -> str:
    """How much tumour some pieces hold, for a warning: "2.4 mL" or "3 pieces, 2.4 mL in all"."""
    total = sum(volumes_ml)
    amount = f"{total:.1f} mL" if total >= 0.05 else "under 0.1 mL"  # specks would read "0.0 mL"
    return f"{len(volumes_ml)} pieces, {amount} in all" if len(volumes_ml) > 1 else amount
