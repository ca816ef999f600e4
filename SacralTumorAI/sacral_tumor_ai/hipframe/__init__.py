"""The hip-bone reference frame: tumour position, extent and Enneking zones relative to the hip bones."""

from sacral_tumor_ai.hipframe.frame import HipFrame, frame_from_hip_bones
from sacral_tumor_ai.hipframe.location import describe_location, unavailable

__all__ = ["HipFrame", "describe_location", "frame_from_hip_bones", "unavailable"]
