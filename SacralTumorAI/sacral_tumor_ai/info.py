"""What a volume is: geometry, orientation, intensities and modality, as a plain dictionary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import SimpleITK as sitk

from sacral_tumor_ai.geometry import Geometry, physical_extent_mm
from sacral_tumor_ai.modality import guess_modality


def describe_image(image: sitk.Image, source: str | Path = "") -> dict[str, Any]:
    """Geometry (LPS, as on disk), orientation code, voxel type, intensity range and modality guess."""
    geometry = Geometry.of(image)
    statistics = sitk.StatisticsImageFilter()
    statistics.Execute(image)
    guess = guess_modality(image)
    return {
        "source": str(source),
        "size": list(geometry.size),
        "spacing_mm": list(geometry.spacing),
        "origin_lps_mm": list(geometry.origin),
        "direction": list(geometry.direction),
        "orientation": geometry.orientation(),
        "extent_mm": list(physical_extent_mm(image)),
        "voxel_type": image.GetPixelIDTypeAsString(),
        "intensity": {
            "min": statistics.GetMinimum(),
            "max": statistics.GetMaximum(),
            "mean": statistics.GetMean(),
        },
        "modality": {"guess": guess.modality, "source": guess.source, "reason": guess.reason},
    }


def format_description(description: dict[str, Any]) -> str:
    """A few readable lines for the terminal."""

    def triple(values: list[float], digits: int) -> str:
        return " x ".join(f"{v:.{digits}f}" for v in values)

    intensity = description["intensity"]
    modality = description["modality"]
    return "\n".join(
        [
            f"source       {description['source']}",
            f"size         {' x '.join(str(v) for v in description['size'])} voxels ({description['voxel_type']})",
            f"spacing      {triple(description['spacing_mm'], 3)} mm",
            f"extent       {triple(description['extent_mm'], 1)} mm",
            f"origin (LPS) {triple(description['origin_lps_mm'], 2)} mm",
            f"orientation  {description['orientation']}",
            f"intensity    {intensity['min']:.0f} .. {intensity['max']:.0f} (mean {intensity['mean']:.1f})",
            f"modality     {modality['guess']} ({modality['source']}: {modality['reason']})",
        ]
    )
