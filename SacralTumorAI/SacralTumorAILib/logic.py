"""SacralTumorAILogic: the module's logic on MRML nodes, shared by desktop Slicer and the browser app."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from sacral_tumor_ai.hipframe import describe_location
from sacral_tumor_ai.info import describe_image
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.modality import ModalityGuess, require_modality
from SacralTumorAILib.location_nodes import add_frame_markups, add_location_table
from SacralTumorAILib.segmentations import add_segmentation_node, labelmap_from_segmentation_node, save_labelmap, save_segmentation
from SacralTumorAILib.volumes import add_volume_node, image_from_volume_node

# Node attribute recording what the core decided about a volume, so that later steps and a saved scene
# keep the answer.
MODALITY_ATTRIBUTE = "SacralTumorAI.Modality"


@dataclass(frozen=True)
class TumourLocation:
    """The location result and the nodes showing it (None when the location is unavailable)."""

    location: dict[str, Any]
    frame_node: Any
    table_node: Any


@dataclass(frozen=True)
class ExportedSegmentation:
    segmentation_file: Path
    labelmap_file: Path


class SacralTumorAILogic:
    """Scene-level operations. Takes the scene it works on; uses no ``slicer.util``, ``slicer.app`` or Qt.

    Every method is synchronous (for scripts and tests); front ends run the long ones off the UI thread.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def load_volume(self, path: str | Path, series: str | None = None, name: str | None = None):
        """Read a volume file or DICOM folder through the core (checked, geometry exact) into the scene."""
        path = Path(path)
        image = read_image(path, series=series)
        node_name = name or path.name.split(".")[0]
        return add_volume_node(self.scene, image, node_name)

    def describe_volume(self, volume_node) -> dict[str, Any]:
        """Geometry, intensities and the CT/MR guess of a volume node (see ``describe_image``)."""
        description = describe_image(image_from_volume_node(volume_node), volume_node.GetName())
        volume_node.SetAttribute(MODALITY_ATTRIBUTE, description["modality"]["guess"])
        return description

    def require_modality(self, volume_node, expected: str) -> ModalityGuess:
        """Raise ``ModalityError`` unless the volume is ``expected`` ("CT" or "MR")."""
        return require_modality(image_from_volume_node(volume_node), expected, volume_node.GetName())

    def add_segmentation(self, labelmap: sitk.Image, reference_volume, name: str = "Segmentation"):
        """Add a labelmap with the project's label table as a segmentation beside ``reference_volume``."""
        return add_segmentation_node(self.scene, labelmap, name, reference_volume)

    def locate_tumour(self, segmentation_node, reference_volume) -> TumourLocation:
        """The tumour's location in the hip frame from the segmentation as it is now (manual edits
        included), shown as a frame markups node and a features table. Nodes are added only once
        everything is computed; an unavailable location adds the table (with its reason) but no frame."""
        labelmap = labelmap_from_segmentation_node(segmentation_node, image_from_volume_node(reference_volume))
        location = describe_location(labelmap)
        frame_node = add_frame_markups(self.scene, location) if location["available"] else None
        table_node = add_location_table(self.scene, location)
        return TumourLocation(location, frame_node, table_node)

    def export_segmentation(self, segmentation_node, reference_volume, folder: str | Path, stem: str) -> ExportedSegmentation:
        """Write ``stem.seg.nrrd`` and a NIfTI labelmap ``stem.nii.gz`` on the reference volume's grid."""
        folder = Path(folder)
        reference = image_from_volume_node(reference_volume)
        labelmap_file = save_labelmap(segmentation_node, reference, folder / f"{stem}.nii.gz")
        segmentation_file = save_segmentation(segmentation_node, folder / f"{stem}.seg.nrrd")
        return ExportedSegmentation(segmentation_file, labelmap_file)
