"""A one-page PNG report of a case: three slices with the segmentation, the class probabilities as bars, the
volumes and the hip-frame location, the warnings and the research-use disclaimer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import SimpleITK as sitk

from sacral_tumor_ai.hipframe.table import location_line
from sacral_tumor_ai.preview import draw_orthogonal, save_figure


def _summary_lines(document: dict[str, Any]) -> list[str]:
    lines = ["Volumes: " + ", ".join(f"{name} {value:.1f} mL" for name, value in document["volumes_ml"].items())]
    lines.append(f"Location: {location_line(document['location'])}")
    lines += [f"Warning: {warning}" for warning in document.get("warnings", [])]
    return lines


def save_report(image: sitk.Image, labelmap: sitk.Image, document: dict[str, Any], path: str | Path, modality: str = "CT", title: str = "") -> Path:
    """Write the report PNG for ``document`` (a ``result.json``-like dict with volumes, location and
    classification)."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure = plt.figure(figsize=(12, 8.6), facecolor="black")
    grid = figure.add_gridspec(2, 3, height_ratios=(1.0, 0.95))
    draw_orthogonal([figure.add_subplot(grid[0, c]) for c in range(3)], image, modality, labelmap)
    bars = figure.add_subplot(grid[1, 0])
    classification = document.get("classification", {})
    if classification.get("available"):
        names = list(reversed(classification["ranking"]))
        values = [classification["probabilities"][n] for n in names]
        bars.barh([n.replace("_", " ") for n in names], values, color=(0.90, 0.20, 0.15))
        bars.set_xlim(0, 1)
        for row, value in enumerate(values):
            bars.text(min(value + 0.02, 0.85), row, f"{100 * value:.0f} %", color="white", va="center", fontsize=9)
        bars.set_title("Tumour type probabilities" + (" (STALE: edited after Classify)" if classification.get("stale") else ""), color="white", fontsize=10)
    else:
        bars.text(0, 0.5, f"Not classified: {classification.get('reason', '')}", color="white", fontsize=9, wrap=True)
        bars.axis("off")
    bars.tick_params(colors="white", labelsize=9)
    bars.set_facecolor("black")
    text = figure.add_subplot(grid[1, 1:])
    text.axis("off")
    wrapped = [line for entry in _summary_lines(document) for line in textwrap.wrap(entry, 95)]
    text.text(0, 1, "\n".join(wrapped), color="white", fontsize=9, va="top", family="monospace")
    text.text(0, 0, document.get("disclaimer", ""), color="orange", fontsize=10, va="bottom")
    if title:
        figure.suptitle(title, color="white", fontsize=11)
    figure.tight_layout()
    return save_figure(figure, path)
