"""Segmentation as the core's ``run`` sees it: volume nodes staged as files, then the pipeline in this process
(scripts, tests) or in a background process (the module and the browser app, so the UI never freezes and
Cancel can stop it at once). Both paths run the same ``sacral_tumor_ai.run.run_case`` into a private work
folder; the scene is touched only afterwards, by the Logic, and only when the run succeeded.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sacral_tumor_ai.errors import CancelledError, SacralTumorAIError
from sacral_tumor_ai.io import write_image
from sacral_tumor_ai.progress import Progress
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
        for flag, value in (("--model", self.model), ("--fusion-model", self.fusion_model)):
            if value:
                arguments += [flag, str(value)]
        return arguments


@dataclass
class StagedRun:
    """A work folder holding the staged inputs and, after the run, the outputs."""

    folder: Path
    files: dict[str, Path]  # input key -> staged file
    keys_by_file: dict[str, str] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.folder / "out"

    def input_key(self, path: str) -> str:
        """Which input a path in ``result.json`` names."""
        return self.keys_by_file[str(Path(path))]

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def stage_inputs(inputs: SegmentationInputs, work_root: str | Path | None = None) -> StagedRun:
    """Write each input node as NRRD into a new work folder (exact geometry, LPS)."""
    folder = Path(tempfile.mkdtemp(prefix="sacral-tumor-ai-", dir=work_root))
    try:
        files = {}
        for key, node in inputs.nodes().items():
            files[key] = write_image(image_from_volume_node(node), folder / "inputs" / f"{key}.nrrd")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StagedRun(folder, files, {str(path): key for key, path in files.items()})


def run_arguments(staged: StagedRun, options: SegmentationOptions) -> list[str]:
    """``sacral-tumor-ai run`` arguments for the staged inputs."""
    if "ct" in staged.files:
        return ["run", str(staged.files["ct"]), "--out", str(staged.out), *options.arguments()]
    sequences = [argument for key, path in staged.files.items() for argument in (f"--{key}", str(path))]
    return ["run", *sequences, "--out", str(staged.out), *options.arguments()]


def run_in_process(staged: StagedRun, options: SegmentationOptions, progress: Progress | None = None) -> dict[str, Any]:
    """The synchronous path: the pipeline in this process; returns ``result.json``'s content."""
    from sacral_tumor_ai.run import run_case

    mri = {key: path for key, path in staged.files.items() if key != "ct"} or None
    return run_case(
        staged.files.get("ct", ""), staged.out, options.model, options.provider, options.device, None, progress, None, None,
        mri, options.fusion_model, options.mri_model, options.registration,
    )


def _core_environment() -> dict[str, str]:
    """This environment, with the folder holding ``sacral_tumor_ai`` first on PYTHONPATH: inside Slicer the
    core sits in the module's folder, which only the running Slicer has on its path."""
    import sacral_tumor_ai

    environment = dict(os.environ)
    root = str(Path(sacral_tumor_ai.__file__).resolve().parents[1])
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (root, environment.get("PYTHONPATH", "")) if p)
    return environment


class SegmentationJob:
    """The pipeline in a background process, reporting progress; ``cancel`` stops it and removes its files.

    Poll ``update()`` from the UI's timer; once ``done``, ``result()`` gives ``result.json`` or raises the
    run's error message. ``python`` is the interpreter to run (in Slicer, ``PythonSlicer``)."""

    def __init__(self, staged: StagedRun, options: SegmentationOptions, python: str | None = None) -> None:
        self.staged = staged
        self.progress = 0.0
        self.message = "starting"
        self.cancelled = False
        self._lines: queue.Queue[str] = queue.Queue()
        self._errors: list[str] = []
        command = [python or sys.executable, "-m", "sacral_tumor_ai", *run_arguments(staged, options), "--progress-json"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=_core_environment())
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self._lines.put), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self._errors.append), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, sink) -> None:
        for line in stream:
            sink(line.rstrip("\n"))

    @property
    def done(self) -> bool:
        return self.process.poll() is not None

    def update(self) -> tuple[float, str]:
        """Take the progress lines printed so far; returns (fraction, message)."""
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            try:
                report = json.loads(line)
            except json.JSONDecodeError:
                continue  # the run's closing summary lines
            if isinstance(report, dict) and "progress" in report:
                self.progress, self.message = float(report["progress"]), str(report["message"])
        return self.progress, self.message

    def wait(self, timeout: float | None = None) -> None:
        self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        self.update()

    def cancel(self) -> None:
        """Stop the process and remove the work folder; the scene was never touched."""
        self.cancelled = True
        if not self.done:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.staged.remove()

    def result(self) -> dict[str, Any]:
        """``result.json`` of a finished run; raises ``CancelledError`` or the run's own error message."""
        if self.cancelled:
            raise CancelledError("cancelled by the user; nothing was added to the scene")
        if not self.done:
            raise SacralTumorAIError("the segmentation is still running")
        self.wait()
        if self.process.returncode != 0:
            message = next((line for line in reversed(self._errors) if line.strip()), f"exit code {self.process.returncode}")
            raise SacralTumorAIError(message.split("error: ", 1)[-1])
        return json.loads((self.staged.out / "result.json").read_text(encoding="utf-8"))
