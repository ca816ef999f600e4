"""SacralTumorAI scene layer: MRML nodes <-> the Slicer-free core (``sacral_tumor_ai``).

Every function takes the scene or the nodes it works on as arguments and uses neither ``slicer.mrmlScene``,
``slicer.app``, ``slicer.modules``, ``slicer.util`` nor Qt, so the same code runs in desktop Slicer, in the
``slicer-core`` Python package and in the trame-slicer browser app.
"""

from SacralTumorAILib.logic import SacralTumorAILogic
from SacralTumorAILib.segmentations import (
    add_segmentation_node,
    labelmap_from_segmentation_node,
    load_segmentation,
    save_segmentation,
)
from SacralTumorAILib.volumes import add_volume_node, image_from_volume_node

__all__ = [
    "SacralTumorAILogic",
    "add_segmentation_node",
    "add_volume_node",
    "image_from_volume_node",
    "labelmap_from_segmentation_node",
    "load_segmentation",
    "save_segmentation",
]
