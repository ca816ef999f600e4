"""Errors that carry a message meant for the user, not a traceback."""

from __future__ import annotations

from pathlib import Path


class SacralTumorAIError(Exception):
    """A problem the user can understand and fix; front ends show ``str(error)`` as it is."""


class InputImageError(SacralTumorAIError):
    """An input image that cannot be used, naming the file and what is wrong with it."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModalityError(SacralTumorAIError):
    """An image of the wrong modality for the requested model (for example MR given to a CT model)."""


def itk_error_summary(error: Exception) -> str:
    """The one informative line of an ITK/SimpleITK exception (its 'Description:'), for user messages."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if line.lower().startswith("description:"):
            return line.split(":", 1)[1].strip()
    return lines[-1] if lines else type(error).__name__


class CancelledError(SacralTumorAIError):
    """The user cancelled a running step; nothing was written or changed."""


class AnatomyNotFoundError(SacralTumorAIError):
    """The image does not show the anatomy a step needs (for example no pelvis in a CT's field of view)."""
