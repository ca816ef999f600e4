"""The bundled demo case: a real, public CT of the abdomen and pelvis (see data/demo/README.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def demo_ct_path() -> Path:
    """Path of the bundled real CT (TotalSegmentator example, Apache-2.0, 3 mm, whole pelvis in view)."""
    return Path(str(resources.files("sacral_tumor_ai") / "data" / "demo" / "example_ct.nii.gz"))


def demo_case_path() -> Path:
    """The bundled real CT with a generated sacral lesion inserted (see data/demo/README.md)."""
    return Path(str(resources.files("sacral_tumor_ai") / "data" / "demo" / "demo_ct_lesion.nii.gz"))


def bundled_model_path(name: str) -> Path:
    """Folder of a model package shipped with the software (``ct-seg``, ...)."""
    return Path(str(resources.files("sacral_tumor_ai") / "data" / "models" / name))
