"""Core commands in a background process, for front ends: the UI stays responsive, progress is reported,
Cancel stops the work at once, and the heavy libraries (torch and its GPU stack) never load into the UI's
process, where they can clash with the renderer's own native libraries."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sacral_tumor_ai.errors import CancelledError, SacralTumorAIError


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


def stage_images(images: dict, work_root: str | Path | None = None) -> StagedRun:
    """Write each image (key -> SimpleITK image) as ``inputs/<key>.nrrd`` in a new work folder."""
    import tempfile

    from sacral_tumor_ai.io import write_image

    folder = Path(tempfile.mkdtemp(prefix="sacral-tumor-ai-", dir=work_root))
    try:
        files = {key: write_image(image, folder / "inputs" / f"{key}.nrrd") for key, image in images.items()}
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StagedRun(folder, files, {str(path): key for key, path in files.items()})


def optional_arguments(pairs: tuple[tuple[str, object], ...]) -> list[str]:
    """Command-line flags with their values, leaving out those not given (None or empty)."""
    return [argument for flag, value in pairs if value not in (None, "") for argument in (flag, str(value))]


def _core_environment() -> dict[str, str]:
    """This environment, with the folder holding ``sacral_tumor_ai`` first on PYTHONPATH: inside Slicer the
    core sits in the module's folder, which only the running Slicer has on its path."""
    import sacral_tumor_ai

    environment = dict(os.environ)
    root = str(Path(sacral_tumor_ai.__file__).resolve().parents[1])
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (root, environment.get("PYTHONPATH", "")) if p)
    return environment


class BackgroundJob:
    """A core command in a background process, reporting progress; ``cancel`` stops it and removes its files.

    Poll ``update()`` from the UI's timer; once ``done``, ``result()`` gives the JSON file the command wrote
    (``result_file``) or raises the command's error message. ``python`` is the interpreter to run (in Slicer,
    ``PythonSlicer``)."""

    def __init__(self, staged: StagedRun, arguments: list[str], result_file: Path, python: str | None = None) -> None:
        self.staged = staged
        self.context: Any = None  # what the caller needs to finish the job (its nodes)
        self.progress = 0.0
        self.message = "starting"
        self.cancelled = False
        self._lines: queue.Queue[str] = queue.Queue()
        self._errors: list[str] = []
        self.result_file = result_file
        command = [python or sys.executable, "-m", "sacral_tumor_ai", *arguments, "--progress-json"]
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
        """The result JSON of a finished run; raises ``CancelledError`` or the run's own error message."""
        if self.cancelled:
            raise CancelledError("cancelled by the user; nothing was added to the scene")
        if not self.done:
            raise SacralTumorAIError("the background step is still running")
        self.wait()
        if self.process.returncode != 0:
            message = next((line for line in reversed(self._errors) if line.strip()), f"exit code {self.process.returncode}")
            raise SacralTumorAIError(message.split("error: ", 1)[-1])
        return json.loads(self.result_file.read_text(encoding="utf-8"))
