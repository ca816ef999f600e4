"""Segmentation as the core's ``run`` sees it: volume nodes staged as files, then the pipeline in this process
(scripts, tests) or in a background process (the module and the browser app, so the UI never freezes and
Cancel can stop it at once). Both paths run the same ``sacral_tumor_ai.run.run_case`` into a private work
folder; the scene is touched only afterwards, by the Logic, and only when the run succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.progress import Progress
from SacralTumorAILib.background import BackgroundJob, StagedRun, optional_arguments, stage_images
from SacralTumorAILib.volumes import image_from_volume_node

SEQUENCES = ("t1", "t2", "dwi", "cet1")


@dataclass
class SegmentationInputs:
    """The volume nodes to segment: a noncontrast CT, or any of the four MRI sequences (not both)."""

    ct: Any = None
    t1: Any = None
    t2: Any = None
    dwi: Any = None
    cet1: Any = None

    def sequences(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SEQUENCES if getattr(self, name) is not None}

    def modality(self) -> str:
        """"CT" or "MR"; raises when nothing, or a CT and MRI sequences together, were given."""
        if self.ct is not None and self.sequences():
            raise SacralTumorAIError("give either a CT or MRI sequences, not both")
        if self.ct is None and not self.sequences():
            raise SacralTumorAIError("no input volume selected: choose a noncontrast CT or at least one MRI sequence")
        return "CT" if self.ct is not None else "MR"

    def nodes(self) -> dict[str, Any]:
        """Input key ("ct" or a sequence) -> node."""
        return {"ct": self.ct} if self.modality() == "CT" else self.sequences()


@dataclass
class SegmentationOptions:
    """How to segment (the ``run`` command's options). Model paths None: the bundled packages."""

    model: str | None = None
    fusion_model: str | None = None
    mri_model: str = "auto"  # auto, all-sequence or t2-fusion
    provider: str = "model"  # hip bones: model, classical, totalsegmentator
    device: str = "cpu"
    registration: str = "affine"

    def arguments(self) -> list[str]:
        """The same options as ``sacral-tumor-ai run`` arguments."""
        arguments = ["--mri-model", self.mri_model, "--provider", self.provider, "--device", self.device, "--registration", self.registration]
        return arguments + optional_arguments((("--model", self.model), ("--fusion-model", self.fusion_model)))


def stage_inputs(inputs: SegmentationInputs, work_root: str | Path | None = None) -> StagedRun:
    """Write each input node as NRRD into a new work folder (exact geometry, LPS)."""
    return stage_images({key: image_from_volume_node(node) for key, node in inputs.nodes().items()}, work_root)


def run_arguments(staged: StagedRun, options: SegmentationOptions) -> list[str]:
    """``sacral-tumor-ai run`` arguments for the staged inputs."""
    inputs = [str(staged.files["ct"])] if "ct" in staged.files else optional_arguments(tuple((f"--{key}", path) for key, path in staged.files.items()))
    return ["run", *inputs, "--out", str(staged.out), *options.arguments()]


def run_in_process(staged: StagedRun, options: SegmentationOptions, progress: Progress | None = None) -> dict[str, Any]:
    """The synchronous path: the pipeline in this process; returns ``result.json``'s content."""
    from sacral_tumor_ai.run import run_case

    mri = {key: path for key, path in staged.files.items() if key != "ct"} or None
    return run_case(
        staged.files.get("ct", ""), staged.out, options.model, options.provider, options.device, None, progress, None, None,
        mri, options.fusion_model, options.mri_model, options.registration,
    )


def start_segmentation_job(staged: StagedRun, options: SegmentationOptions, python: str | None = None) -> BackgroundJob:
    """The pipeline in a background process; its result is ``result.json``."""
    return BackgroundJob(staged, run_arguments(staged, options), staged.out / "result.json", python)
