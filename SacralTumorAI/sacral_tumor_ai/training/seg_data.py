"""Training data for the CT segmentation model: the inference preprocessing, cached, plus MONAI augmentation.

Images go through exactly the ``prepare_ct`` that inference uses (one pipeline), and labels onto the same
model grid, so what the network learns is what it later sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from monai.transforms import RandomizableTransform

from sacral_tumor_ai.ctseg.preprocess import labels_to_grid, prepare_ct
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.io import read_image


def is_partly_labelled(item: dict[str, Any], structures: tuple[str, ...]) -> bool:
    """Whether a data-list item's label holds only some of ``structures``: its optional ``labelled`` key lists
    the structures that were drawn (absent: all). Only tumour-only labels are supported as partial."""
    labelled = tuple(item.get("labelled") or structures)
    if set(labelled) >= set(structures):
        return False
    if tuple(labelled) != ("tumor",):
        raise SacralTumorAIError(f"{item.get('case_id', '?')}: partial labels {list(labelled)} are not supported (only ['tumor'])")
    return True


def cache_case(item: dict[str, Any], spec: CTModelSpec, cache: Path) -> dict[str, Any]:
    """Preprocess one data-list item (or reuse its cached arrays); returns image (C,z,y,x), label (1,z,y,x)
    and ``partial`` (the label holds the tumour only)."""
    case_id = item.get("case_id") or Path(item["image"]).name.split(".")[0]
    path = cache / f"{case_id}.npz"
    if not path.exists():
        prepared = prepare_ct(read_image(item["image"]), spec)
        label = labels_to_grid(read_image(item["label"]), prepared.grid)
        cache.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.stem}.partial.npz")
        np.savez(temporary, image=prepared.channels.astype(np.float16), label=label)
        temporary.replace(path)
    with np.load(path) as data:
        return {"image": data["image"].astype(np.float32), "label": data["label"][None], "case_id": case_id, "partial": is_partly_labelled(item, spec.output_labels)}


class RandMirrorLeftRightd(RandomizableTransform):
    """With probability ``prob``, mirror ``image`` and ``label`` left-right (the model grid's x axis, the last)
    and swap the sided labels (hip_left <-> hip_right), so that the mirrored patch is still labelled truthfully.

    A plain flip would teach the network that a left hip bone may lie on the right; with the swap, every
    training patch also exists as its anatomical mirror image, which evens out the two sides.
    """

    def __init__(self, spec: CTModelSpec, prob: float) -> None:
        RandomizableTransform.__init__(self, prob)
        # Label value -> value after mirroring (labelmaps on the model grid hold label values).
        values = spec.label_values()
        self.swap = np.arange(max(values) + 1)
        for channel, mirrored in enumerate(spec.mirrored_channels()):
            self.swap[values[channel]] = values[mirrored]

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        self.randomize(None)
        if not self._do_transform:
            return data
        import torch

        result = dict(data)
        result["image"] = torch.flip(torch.as_tensor(data["image"]), dims=[-1])
        label = torch.flip(torch.as_tensor(data["label"]), dims=[-1])
        result["label"] = torch.as_tensor(self.swap, dtype=label.dtype)[label.long()]
        return result


def crop_class_ratios(spec: CTModelSpec, weights: dict[str, float]) -> list[float]:
    """Patch-centre weight per labelmap value (index = value) from {"background" or label name: weight};
    values not named get 0. Unknown names are refused rather than silently ignored."""
    values = dict(zip(("background", *spec.output_labels), spec.label_values()))
    unknown = sorted(set(weights) - set(values))
    if unknown:
        raise SacralTumorAIError(f"crop weights for unknown labels {unknown}; known: {sorted(values)}")
    ratios = [0.0] * (max(values.values()) + 1)
    for name, weight in weights.items():
        ratios[values[name]] = float(weight)
    return ratios


def _patch_crop(spec: CTModelSpec, roi: tuple[int, ...], samples_per_case: int, crop_weights: dict[str, float] | None):
    from monai import transforms as T

    if not crop_weights:
        # Centres on any labelled voxel twice as often as on background: voxel-uniform, so mostly bone.
        return T.RandCropByPosNegLabeld(
            keys=("image", "label"), label_key="label", spatial_size=roi, pos=2.0, neg=1.0, num_samples=samples_per_case,
        )
    ratios = crop_class_ratios(spec, crop_weights)
    # Centres drawn per class, so a small tumour gets its share of patches however few voxels it has. A class
    # absent from a case (bones in a tumour-only label) gets no patches there; warn=False keeps that quiet.
    return T.RandCropByLabelClassesd(
        keys=("image", "label"), label_key="label", spatial_size=roi, ratios=ratios, num_classes=len(ratios),
        num_samples=samples_per_case, warn=False,
    )


def training_transforms(
    spec: CTModelSpec, samples_per_case: int, mirror_probability: float = 0.0, crop_weights: dict[str, float] | None = None,
):
    """Random patches centred on foreground or background (or per class, by ``crop_weights``), optional
    left-right mirroring with the sided labels swapped (:class:`RandMirrorLeftRightd`), small
    rotations/scaling, intensity jitter."""
    from monai import transforms as T

    roi = tuple(reversed(spec.patch_size))
    return T.Compose(
        [
            T.SpatialPadd(keys=("image", "label"), spatial_size=roi, constant_values=0),
            _patch_crop(spec, roi, samples_per_case, crop_weights),
            RandMirrorLeftRightd(spec, mirror_probability),
            T.RandAffined(
                keys=("image", "label"), prob=0.3, rotate_range=(0.26, 0.26, 0.26), scale_range=(0.1, 0.1, 0.1),
                mode=("bilinear", "nearest"), padding_mode="zeros",
            ),
            T.RandScaleIntensityd(keys="image", factors=0.1, prob=0.3),
            T.RandShiftIntensityd(keys="image", offsets=0.05, prob=0.3),
            T.RandGaussianNoised(keys="image", std=0.02, prob=0.2),
            T.EnsureTyped(keys=("image", "label"), track_meta=False),
        ]
    )
