"""Which of the module's Python requirements are missing or at the wrong version (no Qt, no slicer.util).

The widget asks the user before installing what this reports; tests check the report itself.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REQUIREMENTS_FILE = Path(__file__).resolve().parents[1] / "Resources" / "requirements.txt"


def read_requirements(path: str | Path = REQUIREMENTS_FILE) -> list[Requirement]:
    """Requirements listed one per line, comments and blank lines skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [Requirement(line.split("#", 1)[0].strip()) for line in lines if line.split("#", 1)[0].strip()]


def unmet_requirements(requirements: list[Requirement] | None = None) -> list[str]:
    """The requirement strings not satisfied in this Python, e.g. ``['monai==1.6.1 (found 1.5.0)']``."""
    unmet = []
    for requirement in requirements if requirements is not None else read_requirements():
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            unmet.append(f"{requirement} (not installed)")
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{requirement} (found {installed})")
    return unmet
