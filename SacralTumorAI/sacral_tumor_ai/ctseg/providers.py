"""Hip-bone providers behind one interface: the project's model, TotalSegmentator, or a classical method.

The tumour always comes from the project's model; a provider other than ``model`` replaces only the bone
labels (hip_left, hip_right, sacrum), which lets users compare and fall back without weights.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM

BONE_VALUES = (SACRUM.value, HIP_LEFT.value, HIP_RIGHT.value)


@dataclass(frozen=True)
class BoneProvider:
    """A named way to get bone labels; ``segment`` is None for the model (its bones come with the tumour)."""

    name: str
    description: str
    availability: Callable[[], str | None]  # None when usable, else the reason it is not
    segment: Callable[[sitk.Image], sitk.Image] | None = None
    modalities: tuple[str, ...] = ("CT", "MR")

    def require(self, modality: str = "CT") -> None:
        if modality not in self.modalities:
            raise SacralTumorAIError(f"hip-bone provider '{self.name}' works on {' and '.join(self.modalities)} only, not {modality}")
        reason = self.availability()
        if reason:
            raise SacralTumorAIError(f"hip-bone provider '{self.name}' is not available: {reason}")


def _classical(image: sitk.Image) -> sitk.Image:
    from sacral_tumor_ai.bones.classical import classical_bone_labels

    return classical_bone_labels(image)


def totalsegmentator_weights_folder() -> Path:
    import os

    home = os.environ.get("TOTALSEG_HOME_DIR") or str(Path.home() / ".totalsegmentator")
    return Path(home) / "nnunet" / "results"


def _totalsegmentator_missing() -> str | None:
    if importlib.util.find_spec("totalsegmentator") is None:
        return "the totalsegmentator package is not installed (pip install TotalSegmentator)"
    folder = totalsegmentator_weights_folder()
    if not folder.is_dir() or not any(folder.iterdir()):
        return f"no TotalSegmentator weights in {folder}; this product never downloads them at run time"
    return None


def _totalsegmentator(image: sitk.Image) -> sitk.Image:
    import tempfile

    from totalsegmentator.python_api import totalsegmentator

    from sacral_tumor_ai.modality import MR, guess_modality

    task = "total_mr" if guess_modality(image).modality == MR else "total"  # total_mr has the same three names

    names = {"hip_left": HIP_LEFT.value, "hip_right": HIP_RIGHT.value, "sacrum": SACRUM.value}
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "ct.nii.gz"
        sitk.WriteImage(image, str(source))
        totalsegmentator(str(source), str(Path(folder) / "out"), task=task, roi_subset=list(names), quiet=True)
        labels = np.zeros(sitk.GetArrayViewFromImage(image).shape, np.uint8)
        for name, value in names.items():
            mask = sitk.ReadImage(str(Path(folder) / "out" / f"{name}.nii.gz"))
            mask = sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
            labels[sitk.GetArrayViewFromImage(mask) > 0] = value
    result = sitk.GetImageFromArray(labels)
    result.CopyInformation(image)
    return result


PROVIDERS: dict[str, BoneProvider] = {
    "model": BoneProvider("model", "the bundled SacralTumorAI model (tumour and bones in one pass)", lambda: None),
    "classical": BoneProvider(
        "classical", "threshold + connected components on HU, no weights (CT baseline and fallback)", lambda: None, _classical, ("CT",)
    ),
    "totalsegmentator": BoneProvider(
        "totalsegmentator", "TotalSegmentator hip_left, hip_right, sacrum; its MR task on MRI (if installed with weights)",
        _totalsegmentator_missing, _totalsegmentator,
    ),
}


def get_provider(name: str) -> BoneProvider:
    if name not in PROVIDERS:
        raise SacralTumorAIError(f"unknown hip-bone provider '{name}'; choose one of {', '.join(PROVIDERS)}")
    return PROVIDERS[name]


def replace_bones(labels: sitk.Image, bones: sitk.Image) -> sitk.Image:
    """``labels`` with its bone labels swapped for ``bones``' (tumour voxels stay tumour)."""
    current = sitk.GetArrayFromImage(labels)
    replacement = sitk.GetArrayViewFromImage(bones)
    merged = np.where(np.isin(current, BONE_VALUES), 0, current).astype(np.uint8)
    free = merged == 0
    merged[free] = replacement[free]
    result = sitk.GetImageFromArray(merged)
    result.CopyInformation(labels)
    return result
