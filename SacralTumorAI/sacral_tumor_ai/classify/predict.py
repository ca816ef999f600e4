"""Classify one tumour: crop + clinical form + hip-frame location -> calibrated probabilities of each class.

Input checks come first: a clinical value that cannot be right is refused with the reason. Values outside
the training range, a location that could not be computed (its scalars are then marked missing, never
invented), or a tumour touching the scan's edge are reported as warnings beside the probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.classify.calibration import calibrated
from sacral_tumor_ai.classify.cases import frame_axes
from sacral_tumor_ai.classify.crop import CropSpec, tumour_crop
from sacral_tumor_ai.classify.scalars import Scalars, gather, out_of_range, vector
from sacral_tumor_ai.io.scan import Scan
from sacral_tumor_ai.models.package import ModelPackage, ModelPackageError


class Classifier:
    """A loaded classifier package: its network (weights checked against the class list) and metadata."""

    def __init__(self, package: ModelPackage, device: str = "cpu") -> None:
        from sacral_tumor_ai.classify.network import build_classifier

        metadata = package.metadata
        if metadata.get("task") != "classification":
            raise ModelPackageError(f"{package.folder}: a {metadata.get('task')} model, not a classifier")
        self.classes: list[str] = list(metadata["classes"])
        state = package.state_dict()
        last = sorted(key for key in state if key.startswith("head.") and key.endswith(".weight"))[-1]
        if state[last].shape[0] != len(self.classes) or metadata["architecture"]["params"]["classes"] != len(self.classes):
            raise ModelPackageError(f"{package.folder}: the metadata lists {len(self.classes)} classes but the weights have {state[last].shape[0]} outputs")
        self.network = build_classifier(metadata["architecture"])
        self.network.load_state_dict(state)
        self.network.to(device).eval()
        self.device = device
        self.package = package
        self.crop = CropSpec.from_metadata(metadata["inputs"]["crop"])
        self.groups = tuple(metadata["inputs"]["groups"])
        self.scalars = metadata["scalars"]
        self.standardisation = metadata["standardisation"]
        self.temperature = float(metadata.get("temperature", 1.0))
        self.modality = str(metadata.get("modality", "CT"))
        self.needs_image = bool(metadata["architecture"]["params"].get("image", True))

    def probabilities(self, crop: np.ndarray, scalars: Scalars) -> np.ndarray:
        """Calibrated class probabilities of a prepared crop (C, z, y, x) and its gathered scalars."""
        import torch

        image = torch.from_numpy(crop[None]).to(self.device)
        values = torch.from_numpy(vector(self.scalars, self.standardisation, scalars, self.groups)[None]).to(self.device)
        with torch.no_grad():
            logits = self.network(image, values).float().cpu().numpy()[0]
        return calibrated(logits, self.temperature)

    def classify(self, ct: sitk.Image | Scan, labelmap: sitk.Image, clinical: dict[str, Any], location: dict[str, Any]) -> dict[str, Any]:
        """Probabilities of every class, the values used and warnings (see the module's docstring)."""
        scalars = gather(self.scalars, clinical, location)  # raises on impossible clinical values
        if self.needs_image:
            crop = tumour_crop(ct, labelmap, self.crop, frame_axes(location))
            array, warnings = crop.array, list(crop.warnings)
        else:  # no image branch: the network ignores its image input
            array, warnings = np.zeros((2, *reversed(self.crop.size)), np.float32), []
        probabilities = self.probabilities(array, scalars)
        warnings += out_of_range(self.scalars, self.standardisation, scalars, self.groups)
        if "location" in self.groups and not location.get("available"):
            warnings.append(f"The tumour's location in the hip frame is unavailable ({location.get('reason')}); the classifier was told so and used the other inputs.")
        clinical_used = _clinical_used(self.scalars, scalars)
        missing = [name for name, value in clinical_used.items() if value is None] if "clinical" in self.groups else []
        if missing:
            warnings.append(f"Not given: {', '.join(missing)}; the classifier was told these are missing.")
        order = np.argsort(-probabilities)
        return {
            "probabilities": {self.classes[i]: round(float(probabilities[i]), 4) for i in range(len(self.classes))},
            "ranking": [self.classes[i] for i in order],
            "clinical_used": clinical_used,
            "inputs": list(("image",) * self.needs_image + self.groups),
            "model": {"name": self.package.name, "version": self.package.version, "temperature": round(self.temperature, 4)},
            "warnings": warnings,
        }


def _clinical_used(table: list[dict[str, Any]], scalars) -> dict[str, Any]:
    """The form values as the classifier read them (codes back as codes, missing as None)."""
    used = {}
    for spec, value in zip(table, scalars.values):
        if spec["group"] != "clinical":
            continue
        codes = {number: code for code, number in spec.get("codes", {}).items()}
        used[spec["name"]] = codes.get(value, value) if codes and value is not None else value
    return used
