"""Tell CT (Hounsfield units) from MR intensities, so that a model for one never silently runs on the other.

The DICOM Modality tag decides when the image came from DICOM. Otherwise the intensity histogram does: a CT
in HU has a substantial share of voxels far below zero (air near -1000 HU, fat near -100 HU) beside a soft
tissue peak near 0-60 HU, over a range of hundreds of HU; MR magnitude images are (almost) never negative,
and normalised MR spans only a few units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.errors import ModalityError

CT = "CT"
MR = "MR"
UNKNOWN = "unknown"
_TAG_MODALITY = "0008|0060"
_SAMPLE_VOXELS = 2_000_000


@dataclass(frozen=True)
class ModalityGuess:
    """What the image most likely is, where the answer came from and the numbers behind it."""

    modality: str
    source: str  # "dicom" or "intensities"
    reason: str
    evidence: dict[str, float] = field(default_factory=dict)


def _sample(image: sitk.Image) -> np.ndarray:
    values = sitk.GetArrayViewFromImage(image).ravel()
    step = max(1, values.size // _SAMPLE_VOXELS)
    return np.asarray(values[::step], dtype=np.float64)


def intensity_evidence(image: sitk.Image) -> dict[str, float]:
    """Histogram facts used by :func:`guess_modality` (percentiles and shares of HU-like ranges)."""
    values = _sample(image)
    p_low, p_median, p_high = np.percentile(values, [0.5, 50, 99.5])
    return {
        "p0.5": float(p_low),
        "median": float(p_median),
        "p99.5": float(p_high),
        "share_below_-50": float(np.mean(values < -50)),
        "share_air_-1100_-850": float(np.mean((values >= -1100) & (values <= -850))),
        "share_soft_tissue_-150_150": float(np.mean((values >= -150) & (values <= 150))),
    }


def guess_modality(image: sitk.Image) -> ModalityGuess:
    """CT, MR or unknown, from the DICOM Modality tag when present, else from intensities."""
    if image.HasMetaDataKey(_TAG_MODALITY):
        tag = image.GetMetaData(_TAG_MODALITY).strip().upper()
        if tag in (CT, MR):
            return ModalityGuess(tag, "dicom", f"DICOM Modality tag is {tag}")
    evidence = intensity_evidence(image)
    spread = evidence["p99.5"] - evidence["p0.5"]
    if (
        evidence["share_below_-50"] >= 0.03
        and evidence["p0.5"] <= -80
        and spread >= 300
        and evidence["share_soft_tissue_-150_150"] >= 0.10
    ):
        reason = (
            f"{evidence['share_below_-50']:.0%} of voxels below -50 (air/fat in HU), "
            f"{evidence['share_soft_tissue_-150_150']:.0%} in the soft-tissue range, "
            f"range {evidence['p0.5']:.0f}..{evidence['p99.5']:.0f}"
        )
        return ModalityGuess(CT, "intensities", reason, evidence)
    if evidence["share_below_-50"] < 0.01 or spread < 50:
        reason = (
            f"only {evidence['share_below_-50']:.1%} of voxels below -50 and range "
            f"{evidence['p0.5']:.0f}..{evidence['p99.5']:.0f}: not Hounsfield units"
        )
        return ModalityGuess(MR, "intensities", reason, evidence)
    return ModalityGuess(
        UNKNOWN, "intensities", "intensities fit neither CT in HU nor MR magnitude", evidence
    )


def require_modality(image: sitk.Image, expected: str, path: str | Path = "input") -> ModalityGuess:
    """Return the guess if it is ``expected`` (CT or MR); raise :class:`ModalityError` otherwise."""
    guess = guess_modality(image)
    if guess.modality != expected:
        wanted = "a CT in Hounsfield units" if expected == CT else "an MR image"
        raise ModalityError(
            f"{path}: looks like {guess.modality} ({guess.reason}), but this step needs {wanted}"
        )
    return guess
