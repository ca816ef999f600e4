"""The core's label table as Slicer terminology entries (the segment tag Slicer reads and writes)."""

from __future__ import annotations

from sacral_tumor_ai.labels import Code, Label

CONTEXT = "Segmentation category and type - 3D Slicer General Anatomy list"
ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"
_EMPTY = Code("", "", "")


def _fields(code: Code | None) -> tuple[str, str, str]:
    code = code or _EMPTY
    return code.value, code.scheme, code.meaning


def terminology_string(label: Label) -> str:
    """Slicer's serialised terminology entry for ``label`` (category, type, modifier; no region)."""
    import slicer

    return slicer.vtkSlicerTerminologiesModuleLogic.SerializeTerminologyEntry(
        CONTEXT,
        *_fields(label.category),
        *_fields(label.type),
        *_fields(label.modifier),
        ANATOMIC_CONTEXT,
        *_fields(None),
        *_fields(None),
    )


def coded_type(terminology: str) -> tuple[str, str]:
    """(type code value, type modifier code value) of a serialised entry; empty strings where absent."""
    parts = terminology.split("~")

    def value(index: int) -> str:
        fields = parts[index].split("^") if index < len(parts) else []
        return fields[1] if len(fields) > 1 else ""

    return value(2), value(3)
