"""The main job, ``sacral-tumor-ai run``: segmentation files, ``result.json`` and a preview for one CT.

Everything is computed first and written last, each file atomically, so a failure or a cancel leaves the
output folder as it was.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sacral_tumor_ai import __version__
from sacral_tumor_ai.ctseg.pipeline import CTSegmentation, segment_ct
from sacral_tumor_ai.demo import bundled_model_path
from sacral_tumor_ai.geometry import Geometry
from sacral_tumor_ai.hipframe import describe_location
from sacral_tumor_ai.io import read_image, write_image, write_json, write_seg_nrrd
from sacral_tumor_ai.labels import label_values
from sacral_tumor_ai.models.package import load_package
from sacral_tumor_ai.preview import save_orthogonal_preview
from sacral_tumor_ai.progress import Progress

DISCLAIMER = "Research use only. Not for diagnosis or treatment decisions."
OUTPUT_FILES = {
    "segmentation": "segmentation.seg.nrrd",
    "labelmap": "segmentation.nii.gz",
    "preview": "preview.png",
    "result": "result.json",
}


def build_result(source: str | Path, image_geometry: Geometry, segmentation: CTSegmentation, location: dict[str, Any]) -> dict[str, Any]:
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
        "timings_s": segmentation.timings_s,
        "models": {"segmentation": segmentation.model},
        "warnings": list(segmentation.warnings),
    }


def run_case(
    source: str | Path,
    out: str | Path,
    model: str | Path | None = None,
    provider: str = "model",
    device: str = "cpu",
    series: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Segment ``source`` (file or DICOM folder) and write the outputs into ``out``; return the result."""
    started = time.perf_counter()
    image = read_image(source, series=series)
    package = load_package(model or bundled_model_path("ct-seg"))
    segmentation = segment_ct(image, package, provider, device, progress, source=str(source))
    located = time.perf_counter()
    location = describe_location(segmentation.labelmap)
    result = build_result(source, Geometry.of(image), segmentation, location)
    result["timings_s"]["location"] = round(time.perf_counter() - located, 3)
    result["timings_s"]["end_to_end"] = round(time.perf_counter() - started, 3)
    out = Path(out)
    write_seg_nrrd(segmentation.labelmap, out / OUTPUT_FILES["segmentation"])
    write_image(segmentation.labelmap, out / OUTPUT_FILES["labelmap"])
    save_orthogonal_preview(image, out / OUTPUT_FILES["preview"], "CT", segmentation.labelmap, title=Path(source).name)
    write_json(result, out / OUTPUT_FILES["result"])
    return result
