"""The project's label table: one place for label values, names, colours and standard terminology.

Every labelmap the project writes (model outputs, generated cohorts, exports) uses these values; the scene
layer turns each entry into a Slicer segment with the same name, colour and terminology. Where labels
overlap, the entry listed later is painted over the earlier ones (a tumour inside a bone stays tumour).
"""

from __future__ import annotations

from collections.abc import Sequence

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """A coded concept, e.g. SNOMED CT (scheme ``SCT``)."""

    scheme: str
    value: str
    meaning: str


@dataclass(frozen=True)
class Label:
    """One structure of the label table."""

    name: str
    value: int
    display_name: str
    color: tuple[float, float, float]
    category: Code
    type: Code
    modifier: Code | None = None


ANATOMICAL_STRUCTURE = Code("SCT", "123037004", "Anatomical Structure")
ALTERED_STRUCTURE = Code("SCT", "49755003", "Morphologically Altered Structure")
LEFT = Code("SCT", "7771000", "Left")
RIGHT = Code("SCT", "24028007", "Right")
HIP_BONE = Code("SCT", "29836001", "Hip bone")

SACRUM = Label("sacrum", 4, "Sacrum", (0.69, 0.48, 0.40), ANATOMICAL_STRUCTURE, Code("SCT", "54735007", "Sacrum"))
HIP_LEFT = Label("hip_left", 2, "Left hip bone", (0.95, 0.84, 0.57), ANATOMICAL_STRUCTURE, HIP_BONE, LEFT)
HIP_RIGHT = Label("hip_right", 3, "Right hip bone", (0.56, 0.78, 0.91), ANATOMICAL_STRUCTURE, HIP_BONE, RIGHT)
TUMOR = Label("tumor", 1, "Tumor", (0.90, 0.20, 0.15), ALTERED_STRUCTURE, Code("SCT", "86049000", "Neoplasm"))

# Painting order: bones first, tumour last.
LABELS: tuple[Label, ...] = (SACRUM, HIP_LEFT, HIP_RIGHT, TUMOR)


def label_by_name(name: str) -> Label:
    for label in LABELS:
        if label.name == name:
            return label
    raise KeyError(f"unknown label '{name}'; known: {', '.join(l.name for l in LABELS)}")


def mirror_label(label: Label) -> Label:
    """The label a left-right mirror image turns ``label`` into: the other side's, or itself if unsided."""
    other = {LEFT: RIGHT, RIGHT: LEFT}.get(label.modifier)
    if other is None:
        return label
    return next(l for l in LABELS if l.type == label.type and l.category == label.category and l.modifier == other)


def label_values() -> dict[str, int]:
    """Segment name -> value in the project's labelmaps (as ``result.json`` reports it)."""
    return {label.name: label.value for label in sorted(LABELS, key=lambda l: l.value)}


TERMINOLOGY_CONTEXT = "Segmentation category and type - 3D Slicer General Anatomy list"
ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"


def _coded(code: Code | None) -> str:
    return f"{code.scheme}^{code.value}^{code.meaning}" if code else "^^"


def terminology_string(label: Label) -> str:
    """The label's terminology as Slicer serialises it in segment tags and ``.seg.nrrd`` files:
    context~category~type~type modifier~anatomic context~region~region modifier, codes as scheme^value^meaning."""
    return "~".join(
        (TERMINOLOGY_CONTEXT, _coded(label.category), _coded(label.type), _coded(label.modifier), ANATOMIC_CONTEXT, "^^", "^^")
    )


def coded_type(terminology: str) -> tuple[str, str]:
    """(type code value, type modifier code value) of a serialised entry; empty strings where absent."""
    parts = terminology.split("~")

    def value(index: int) -> str:
        fields = parts[index].split("^") if index < len(parts) else []
        return fields[1] if len(fields) > 1 else ""

    return value(2), value(3)


def match_segments(segments: Sequence[tuple[str, str, str]], labels: Sequence[Label] = LABELS) -> dict[str, str]:
    """Label name -> segment ID for ``segments`` given as (ID, name, terminology string or "").

    A user's segmentation may name segments differently but still code them, so each label takes the first
    segment matching its ID, else its name or display name, else its terminology; a segment serves one label.
    """
    found: dict[str, str] = {}
    for label in labels:
        names = {label.name.lower(), label.display_name.lower()}
        code = (label.type.value, label.modifier.value if label.modifier else "")
        for matches in (
            lambda identifier, name, terminology: identifier == label.name,
            lambda identifier, name, terminology: name.strip().lower() in names,
            lambda identifier, name, terminology: bool(terminology) and coded_type(terminology) == code,
        ):
            hits = [segment[0] for segment in segments if segment[0] not in found.values() and matches(*segment)]
            if hits:
                found[label.name] = hits[0]
                break
    return found


def label_entries(labels: Sequence[Label] = LABELS) -> list[dict]:
    """The label table as model metadata stores it: name, value, display name, colour, terminology."""
    return [
        {"name": label.name, "value": label.value, "display_name": label.display_name, "color": list(label.color), "terminology": terminology_string(label)}
        for label in labels
    ]
