"""One MRI study end to end: read the sequences, choose the model, load the packages, segment."""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from sacral_tumor_ai.demo import bundled_model_path
from sacral_tumor_ai.models.package import load_package
from sacral_tumor_ai.mriseg.inputs import read_sequences
from sacral_tumor_ai.mriseg.pipeline import segment_mri
from sacral_tumor_ai.mriseg.plan import MODEL_NAMES, RELIABLE_DICE, T2_FUSION, measured_dice, measured_preference, method_name, plan_mri
from sacral_tumor_ai.progress import Progress
from sacral_tumor_ai.segmentation import Segmentation

ALL_SEQUENCE_PACKAGE = "mri-allseq"
FUSION_PACKAGE = "mri-t2fusion"


def fusion_folder(fusion_model: str | Path | None) -> Path | None:
    """The given T2-fusion package, else the bundled one; None when neither is there."""
    folder = Path(fusion_model) if fusion_model else bundled_model_path(FUSION_PACKAGE)
    return folder if fusion_model or (folder / "model.json").is_file() else None


def segment_study(
    files: dict[str, str | Path],
    model: str | Path | None = None,
    fusion_model: str | Path | None = None,
    choice: str = "auto",
    device: str = "cpu",
    progress: Progress | None = None,
    registration: str = "affine",
    series: str | None = None,
    bone_provider: str = "model",
) -> tuple[sitk.Image, str, Segmentation]:
    """Segment the study ``files`` (sequence -> file or DICOM folder). Returns the reference sequence's image
    (the mask's grid), its source path and the segmentation (its warnings include reading notes)."""
    images, notes = read_sequences(files, series)
    fusion = fusion_folder(fusion_model)
    allseq = load_package(model or bundled_model_path(ALL_SEQUENCE_PACKAGE))
    plan = plan_mri(images, fusion is not None, choice, preference=measured_preference(allseq.metadata))
    package = load_package(fusion) if plan.model == T2_FUSION else allseq
    name = method_name(f"2.5D {MODEL_NAMES[plan.model]}", plan.sequences)
    measured = measured_dice(package.metadata, name)
    if measured is not None and measured < RELIABLE_DICE:
        notes.append(f"this model's tumour Dice on {name.split(': ')[1]} in its tests was {measured:.2f}: its tumour mask here is unreliable; check it by hand (see its model card)")
    sources = {sequence: str(file) for sequence, file in files.items()}
    segmentation = segment_mri(images, package, plan, device, progress, sources, registration, bone_provider=bone_provider)
    segmentation.warnings[:0] = notes
    return images[plan.reference], sources[plan.reference], segmentation
