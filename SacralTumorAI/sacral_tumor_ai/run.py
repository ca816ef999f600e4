"""The main job, ``sacral-tumor-ai run``: segmentation files, ``result.json`` and a preview for one CT.

Everything is computed first and written last, each file atomically, so a failure or a cancel leaves the
output folder as it was.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from sacral_tumor_ai import __version__
from sacral_tumor_ai.ctseg.pipeline import segment_ct
from sacral_tumor_ai.demo import bundled_model_path
from sacral_tumor_ai.classify.scalars import DEFAULT_SCALARS, gather
from sacral_tumor_ai.geometry import Geometry
from sacral_tumor_ai.hipframe import describe_location
from sacral_tumor_ai.io import write_image, write_json, write_seg_nrrd
from sacral_tumor_ai.io.scan import Scan, open_scan
from sacral_tumor_ai.labels import label_values
from sacral_tumor_ai.models.package import load_package
from sacral_tumor_ai.preview import save_orthogonal_preview
from sacral_tumor_ai.progress import Progress
from sacral_tumor_ai.segmentation import Segmentation

DISCLAIMER = "Research use only. Not for diagnosis or treatment decisions."
OUTPUT_FILES = {
    "segmentation": "segmentation.seg.nrrd",
    "labelmap": "segmentation.nii.gz",
    "preview": "preview.png",
    "result": "result.json",
}


def build_result(source: str | Path, image_geometry: Geometry, segmentation: Segmentation, location: dict[str, Any], classification: dict[str, Any]) -> dict[str, Any]:
    """The ``result.json`` document."""
    return {
        "software": {"name": "sacral-tumor-ai", "version": __version__},
        "disclaimer": DISCLAIMER,
        "input": {
            "path": str(source),
            "size": list(image_geometry.size),
            "spacing_mm": list(image_geometry.spacing),
            "orientation": image_geometry.orientation(),
        },
        "labels": label_values(),
        "files": dict(OUTPUT_FILES),
        "segmentation": segmentation.summary(),
        "volumes_ml": segmentation.volumes_ml,
        "location": location,
        "classification": classification,
        "timings_s": segmentation.timings_s,
        "models": {"segmentation": segmentation.model, **({"classification": classification["model"]} if classification.get("model") else {})},
        "warnings": list(segmentation.warnings),
    }


BUNDLED_CLASSIFIERS = {"CT": "ct-classifier", "MR": "clinical-location-classifier"}  # MR: no image branch


def load_classifier(classifier: str | Path | None, device: str, modality: str = "CT"):
    """The given classifier package, else the bundled one for ``modality``; None when neither exists (the
    run then reports classification as unavailable)."""
    from sacral_tumor_ai.classify.predict import Classifier

    folder = Path(classifier) if classifier else bundled_model_path(BUNDLED_CLASSIFIERS[modality])
    if classifier is None and not (folder / "model.json").is_file():
        return None
    return Classifier(load_package(folder), device)


def classify(classifier, image: sitk.Image | Scan, labelmap, clinical: dict[str, Any], location: dict[str, Any], tumour_ml: float, modality: str = "CT") -> dict[str, Any]:
    """The ``classification`` part of the result: probabilities, or why there are none."""
    if classifier is None:
        return {"available": False, "reason": "No classifier is installed (bundled or given with --classifier)."}
    if classifier.needs_image and classifier.modality != modality:
        return {"available": False, "reason": f"The classifier reads {classifier.modality} crops and this is {modality}; give one that fits with --classifier."}
    if tumour_ml <= 0:
        return {"available": False, "reason": "The tumour mask is empty: there is nothing to classify."}
    return {"available": True, **classifier.classify(image, labelmap, clinical, location)}


def assess_tumour(image: sitk.Image | Scan, labelmap, clinical: dict[str, Any], classifier, modality: str = "CT") -> dict[str, Any]:
    """Location in the hip frame and classification of the tumour of ``labelmap`` (on ``image``'s grid):
    ``{"location", "classification", "volumes_ml", "timings_s"}``. ``classifier`` is a loaded one or None."""
    from sacral_tumor_ai.segmentation import label_volumes_ml

    started = time.perf_counter()
    location = describe_location(labelmap)
    location_seconds = time.perf_counter() - started
    volumes = label_volumes_ml(labelmap)
    classified = time.perf_counter()
    classification = classify(classifier, image, labelmap, clinical, location, volumes.get("tumor", 0.0), modality)
    timings = {"location": round(location_seconds, 3), "classification": round(time.perf_counter() - classified, 3)}
    return {"location": location, "classification": classification, "volumes_ml": volumes, "timings_s": timings}


def run_case(
    source: str | Path,
    out: str | Path,
    model: str | Path | None = None,
    provider: str = "model",
    device: str = "cpu",
    series: str | None = None,
    progress: Progress | None = None,
    clinical: dict[str, Any] | None = None,
    classifier: str | Path | None = None,
    mri: dict[str, str | Path] | None = None,
    fusion_model: str | Path | None = None,
    mri_model: str = "auto",
    registration: str = "affine",
) -> dict[str, Any]:
    """Segment ``source`` (a CT file or DICOM folder) or the MRI study ``mri`` (sequence -> file: any of t1, t2,
    dwi, cet1), locate and classify the tumour (with the ``clinical`` form values, for example age and sex)
    and write the outputs into ``out``; return the result. For MRI, ``model`` is the All-sequence package,
    ``fusion_model`` the T2-fusion one, ``mri_model`` auto, all-sequence or t2-fusion."""
    started = time.perf_counter()
    clinical = dict(clinical or {})
    loaded_classifier = load_classifier(classifier, device, "MR" if mri else "CT")
    gather(loaded_classifier.scalars if loaded_classifier else DEFAULT_SCALARS, clinical, None)  # impossible form values stop the run before any work
    if mri:
        from sacral_tumor_ai.mriseg.study import segment_study

        image, source, segmentation = segment_study(mri, model, fusion_model, mri_model, device, progress, registration, series, provider)
    else:
        image = open_scan(source, series=series)  # a huge file's voxels go back to it while the labelmap is made
        package = load_package(model or bundled_model_path("ct-seg"))
        segmentation = segment_ct(image, package, provider, device, progress, source=str(source))
    assessed = assess_tumour(image, segmentation.labelmap, clinical, loaded_classifier, "MR" if mri else "CT")
    result = build_result(source, Scan.of(image).geometry, segmentation, assessed["location"], assessed["classification"])
    result["timings_s"].update(assessed["timings_s"])
    result["timings_s"]["end_to_end"] = round(time.perf_counter() - started, 3)
    out = Path(out)
    save_orthogonal_preview(image, out / OUTPUT_FILES["preview"], "MR" if mri else "CT", segmentation.labelmap, title=Path(source).name)
    del image  # the scan is no longer needed: a huge one held in memory (DICOM, MRI) goes before the labelmap is written
    write_seg_nrrd(segmentation.labelmap, out / OUTPUT_FILES["segmentation"])
    write_image(segmentation.labelmap, out / OUTPUT_FILES["labelmap"])
    write_json(result, out / OUTPUT_FILES["result"])
    return result
