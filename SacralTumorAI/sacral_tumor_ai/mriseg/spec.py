"""What an MRI model expects, stored in its package's metadata: inputs, slice context, grid, output labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.labels import label_by_name

SEQUENCES = ("t1", "t2", "dwi", "cet1")
SEQUENCE_NAMES = {"t1": "T1-w", "t2": "T2-w", "dwi": "DWI", "cet1": "CET1-w"}
ANY_SEQUENCE = "any"  # the All-sequence model's single input: whichever sequence is given
OUTPUT_LABELS = ("tumor", "hip_left", "hip_right", "sacrum")


@dataclass(frozen=True)
class MriModelSpec:
    """``inputs``: ("any",) for the All-sequence model, ("t2", "cet1") for T2-fusion (channel order).
    ``context``: neighbouring slices on each side stacked as channels (1 = seed 2's 2.5D, 0 = plain 2D).
    Images are resampled in-plane to ``in_plane_mm``; slices keep their thickness within ``slice_mm``."""

    inputs: tuple[str, ...] = (ANY_SEQUENCE,)
    context: int = 1
    in_plane_mm: float = 1.5
    slice_mm: tuple[float, float] = (2.5, 6.0)
    output_labels: tuple[str, ...] = OUTPUT_LABELS

    def __post_init__(self) -> None:
        unknown = [s for s in self.inputs if s not in (*SEQUENCES, ANY_SEQUENCE)]
        if unknown or not self.inputs:
            raise SacralTumorAIError(f"MRI model inputs {list(self.inputs)}: use 'any' or sequences from {', '.join(SEQUENCES)}")

    @property
    def is_fusion(self) -> bool:
        return self.inputs != (ANY_SEQUENCE,)

    @property
    def in_channels(self) -> int:
        return len(self.inputs) * (2 * self.context + 1)

    def label_values(self) -> list[int]:
        """Label value of each output channel (channel 0 is background)."""
        return [0] + [label_by_name(name).value for name in self.output_labels]

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> MriModelSpec:
        try:
            mri = metadata["mri"]
            return cls(tuple(mri["inputs"]), int(mri["context"]), float(mri["in_plane_mm"]), tuple(mri["slice_mm"]), tuple(mri["output_labels"]))
        except (KeyError, TypeError, ValueError) as error:
            raise SacralTumorAIError(f"model {metadata.get('name', '?')}: not an MRI segmentation model ({error})") from error

    def to_metadata(self) -> dict[str, Any]:
        return {
            "mri": {
                "inputs": list(self.inputs),
                "context": self.context,
                "in_plane_mm": self.in_plane_mm,
                "slice_mm": list(self.slice_mm),
                "output_labels": list(self.output_labels),
                "channel_order": [f"{s}[z{offset:+d}]" for s in self.inputs for offset in range(-self.context, self.context + 1)],
                "normalisation": "per sequence: z-score over the body (voxels above 10% of the 99th percentile), clipped to [-3, 6]",
            }
        }
