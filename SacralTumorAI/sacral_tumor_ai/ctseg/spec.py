"""What a CT segmentation model expects, read from its package metadata (never hard-coded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sacral_tumor_ai.ctseg.bone_edges import BoneEdges
from sacral_tumor_ai.ctseg.tumour_edges import TumourEdges
from sacral_tumor_ai.labels import TUMOR, label_by_name, mirror_label
from sacral_tumor_ai.models.package import ModelPackageError


@dataclass(frozen=True)
class CTModelSpec:
    """Input grid and intensity windows of a CT segmentation model, and the meaning of its outputs."""

    spacing: tuple[float, float, float]  # mm, on an axis-aligned LPS grid
    windows: tuple[tuple[float, float], ...]  # HU ranges, one input channel each, scaled to [0, 1]
    patch_size: tuple[int, int, int]  # voxels (x, y, z)
    output_labels: tuple[str, ...]  # name of each output channel after background (channel 0)
    overlap: float = 0.25
    body_threshold_hu: float = -500.0
    body_margin_mm: float = 10.0
    mirror: bool = False  # test-time left-right mirroring
    offsets: tuple[tuple[str, float], ...] = ()  # (label, offset added to its log-probability), calibrated
    bone_edges: BoneEdges | None = None  # bone surfaces refined at the input's resolution, calibrated
    tumour_min_probability: float = 0.0  # a tumour piece whose probability never reaches this is dropped, calibrated
    tumour_edges: TumourEdges | None = None  # the rim of tissue drawn around a tumour peeled by density, calibrated

    def __post_init__(self) -> None:
        if len(self.patch_size) != 3 or min(self.patch_size) < 1:
            raise ModelPackageError(f"the sliding window must be 3 positive sizes (x, y, z voxels), not {list(self.patch_size)}")
        if not 0.0 <= self.overlap < 1.0:
            raise ModelPackageError(f"the sliding-window overlap must be in [0, 1), not {self.overlap}")

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> CTModelSpec:
        model_input = metadata["input"]
        names = tuple(metadata["output"]["labels"])
        for name in names:
            label_by_name(name)  # unknown names fail here, with the known ones listed
        inference = metadata.get("inference", {})
        offsets = inference.get("decision_offsets", {})
        unknown = sorted(set(offsets) - set(names))
        if unknown:
            raise ModelPackageError(f"decision offsets for labels the model does not output: {', '.join(unknown)}")
        mirror = bool(inference.get("mirror_left_right", False))
        unpaired = [name for name in names if mirror_label(label_by_name(name)).name not in names]
        if mirror and unpaired:
            raise ModelPackageError(f"test-time mirroring needs both sides of {', '.join(unpaired)} among the outputs")
        level = float(inference.get("tumour_min_probability", 0.0))
        if not 0.0 <= level < 1.0:
            raise ModelPackageError(f"tumour_min_probability must be in [0, 1), not {level}")
        if (level or inference.get("tumour_edges")) and TUMOR.name not in names:
            raise ModelPackageError("tumour_min_probability or tumour_edges is set but the model outputs no tumour")
        return cls(
            spacing=tuple(float(v) for v in model_input["spacing_mm"]),
            windows=tuple((float(low), float(high)) for low, high in model_input["windows_hu"]),
            patch_size=tuple(int(v) for v in model_input["patch_size"]),
            output_labels=names,
            overlap=float(model_input.get("overlap", 0.25)),
            body_threshold_hu=float(model_input.get("body_threshold_hu", -500.0)),
            body_margin_mm=float(model_input.get("body_margin_mm", 10.0)),
            mirror=mirror,
            offsets=tuple((name, float(offsets[name])) for name in names if name in offsets),
            bone_edges=BoneEdges.from_metadata(inference.get("bone_edges")),
            tumour_min_probability=level,
            tumour_edges=TumourEdges.from_metadata(inference.get("tumour_edges")),
        )

    def to_metadata(self) -> dict[str, Any]:
        return {
            "input": {
                "spacing_mm": list(self.spacing),
                "orientation": "LPS axis-aligned (any input orientation is resampled onto it)",
                "windows_hu": [list(window) for window in self.windows],
                "patch_size": list(self.patch_size),
                "overlap": self.overlap,
                "body_threshold_hu": self.body_threshold_hu,
                "body_margin_mm": self.body_margin_mm,
                "channels": [f"CT window {low:g}..{high:g} HU scaled to [0, 1]" for low, high in self.windows],
            },
            "output": {"activation": "softmax", "labels": list(self.output_labels)},
            "inference": {
                "mirror_left_right": self.mirror,
                "decision_offsets": dict(self.offsets),
                "bone_edges": self.bone_edges.to_metadata() if self.bone_edges else None,
                "tumour_min_probability": self.tumour_min_probability,
                "tumour_edges": self.tumour_edges.to_metadata() if self.tumour_edges else None,
            },
        }

    @property
    def channels(self) -> int:
        return len(self.windows)

    def decision_offsets(self) -> list[float]:
        """Offset added to each output channel's log-probability before the arg-max (background 0 first)."""
        offsets = dict(self.offsets)
        return [0.0] + [offsets.get(name, 0.0) for name in self.output_labels]

    def tumour_channel(self) -> int | None:
        """The output channel of the tumour's probability (None for a bones-only model)."""
        return 1 + self.output_labels.index(TUMOR.name) if TUMOR.name in self.output_labels else None

    def mirrored_channels(self) -> list[int]:
        """For each output channel, the channel that holds its prediction on a left-right mirrored input."""
        names = list(self.output_labels)
        return [0] + [1 + names.index(mirror_label(label_by_name(name)).name) for name in names]

    def label_values(self) -> list[int]:
        """Labelmap value of each output channel (background 0 first)."""
        return [0] + [label_by_name(name).value for name in self.output_labels]


def bone_values(spec: CTModelSpec) -> tuple[int, ...]:
    """Labelmap values of the model's bone outputs (everything but the tumour)."""
    return tuple(label_by_name(name).value for name in spec.output_labels if name != TUMOR.name)
