"""The model package format used by every model of the project.

A package is a folder holding ``model.json`` (metadata: name, version, task, modality, input channels,
spacing, intensity windows, labels with standard terminology, training data, metrics, licence, the network's
architecture) and ``weights.safetensors``. ``model.json`` records the weights' SHA-256, which is checked
before anything is loaded; weights are plain tensors (safetensors), never pickled objects, so loading a
package cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sacral_tumor_ai.errors import SacralTumorAIError

FORMAT_VERSION = 1
METADATA_FILE = "model.json"
WEIGHTS_FILE = "weights.safetensors"
REQUIRED_KEYS = ("name", "version", "task", "modality", "architecture", "weights", "licence", "intended_use")


class ModelPackageError(SacralTumorAIError):
    """A model package that is missing, malformed or fails its checksum."""


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelPackage:
    """A verified package: its folder and metadata. Build the network with ``networks.build_network``."""

    folder: Path
    metadata: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def weights_path(self) -> Path:
        return self.folder / self.metadata["weights"]["file"]

    def state_dict(self) -> dict[str, Any]:
        """The weights as float32 tensors (stored possibly as float16 to keep packages small)."""
        import torch
        from safetensors.torch import load_file

        return {key: value.to(torch.float32) if value.is_floating_point() else value for key, value in load_file(str(self.weights_path)).items()}


def read_metadata(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    path = folder / METADATA_FILE
    if not path.is_file():
        raise ModelPackageError(f"{folder}: not a model package (no {METADATA_FILE})")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ModelPackageError(f"{path}: invalid JSON ({error})") from error
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if missing:
        raise ModelPackageError(f"{path}: missing metadata {', '.join(missing)}")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelPackageError(f"{path}: package format {metadata.get('format_version')} is not {FORMAT_VERSION}")
    return metadata


def load_package(folder: str | Path) -> ModelPackage:
    """Read and verify a package: metadata complete, weights present and matching their SHA-256."""
    folder = Path(folder)
    metadata = read_metadata(folder)
    weights = folder / metadata["weights"]["file"]
    if not weights.is_file():
        raise ModelPackageError(f"{folder}: weights file {weights.name} is missing")
    actual = sha256_of(weights)
    if actual != metadata["weights"]["sha256"]:
        raise ModelPackageError(
            f"{weights}: checksum mismatch (expected {metadata['weights']['sha256'][:12]}..., found "
            f"{actual[:12]}...); the file is damaged or was modified, so it is not loaded"
        )
    return ModelPackage(folder, metadata)


def save_package(state_dict: dict[str, Any], metadata: dict[str, Any], folder: str | Path, half: bool = True) -> ModelPackage:
    """Write a package atomically (a temporary folder renamed into place), weights as safetensors.

    ``half`` stores floating-point weights as float16 (they are used as float32), halving the file size.
    """
    import torch
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        tensors = {
            key: (value.detach().to(torch.float16) if half and value.is_floating_point() else value.detach()).contiguous().cpu()
            for key, value in state_dict.items()
        }
        save_file(tensors, str(staging / WEIGHTS_FILE))
        complete = {"format_version": FORMAT_VERSION, **metadata}
        complete["weights"] = {
            "file": WEIGHTS_FILE,
            "sha256": sha256_of(staging / WEIGHTS_FILE),
            "dtype": "float16" if half else "float32",
            "bytes": (staging / WEIGHTS_FILE).stat().st_size,
        }
        (staging / METADATA_FILE).write_text(json.dumps(complete, indent=2) + "\n", encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return load_package(folder)


def install_package(
    source: str | Path, target: str | Path, metrics: dict[str, Any], version: str | None = None, updates: dict[str, Any] | None = None,
) -> ModelPackage:
    """Copy the package ``source`` over ``target`` (for example the bundled models' folder), merging
    ``metrics`` (measured after training, such as test results) into its metadata; returns it verified.
    ``version`` releases it under that version (a run resumed under a new configuration may have saved its
    best epoch under the old one); ``updates`` replaces top-level metadata entries (such as a calibration's
    ``inference`` settings). The weights and their checksum are untouched."""
    source, target = Path(source), Path(target)
    load_package(source)
    if target.resolve() == source.resolve():
        raise ModelPackageError(f"{target}: a package cannot be installed over itself; choose another folder")
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    target.chmod(0o755)
    metadata_path = target / METADATA_FILE
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    metadata.setdefault("metrics", {}).update(metrics)
    if version is not None:
        metadata["version"] = version
    metadata.update(updates or {})
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return load_package(target)
