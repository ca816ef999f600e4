"""The model packages a user has: the bundled ones and those in a models folder, and importing a package
from a folder or a ``.zip`` (offline: a colleague's or a research team's own trained model).

Listing never raises on a bad package: a damaged or tampered one is listed with its problem, so front ends can
show it and refuse to use it. Importing verifies the package (metadata and weights checksum) before it lands
in the models folder, atomically.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sacral_tumor_ai.demo import bundled_model_path
from sacral_tumor_ai.models.package import METADATA_FILE, ModelPackage, ModelPackageError, load_package, read_metadata

MAX_ARCHIVE_BYTES = 2 * 1024**3  # uncompressed; the project's packages are a few MB


@dataclass(frozen=True)
class PackageEntry:
    """One package as a front end lists it; ``problem`` is empty for a usable package."""

    folder: Path
    name: str
    version: str
    task: str
    modality: str
    bundled: bool
    problem: str = ""

    def label(self) -> str:
        origin = "bundled" if self.bundled else str(self.folder.parent)
        return f"{self.name} {self.version} ({origin})" + (f": {self.problem}" if self.problem else "")


def _entry(folder: Path, bundled: bool) -> PackageEntry:
    try:
        metadata = read_metadata(folder)
    except ModelPackageError as error:
        return PackageEntry(folder, folder.name, "?", "?", "?", bundled, str(error))
    entry = PackageEntry(folder, metadata["name"], metadata["version"], metadata["task"], metadata["modality"], bundled)
    try:
        load_package(folder)
    except ModelPackageError as error:
        return PackageEntry(entry.folder, entry.name, entry.version, entry.task, entry.modality, bundled, str(error))
    return entry


def list_packages(models_folder: str | Path | None = None, bundled: tuple[str, ...] = ("ct-seg", "mri-allseq", "mri-t2fusion", "ct-classifier", "clinical-location-classifier")) -> list[PackageEntry]:
    """The bundled packages, then every package folder directly inside ``models_folder``."""
    entries = [_entry(bundled_model_path(name), True) for name in bundled if (bundled_model_path(name) / METADATA_FILE).is_file()]
    if models_folder is not None and Path(models_folder).is_dir():
        entries += [_entry(folder, False) for folder in sorted(Path(models_folder).iterdir()) if (folder / METADATA_FILE).is_file()]
    return entries


def _safe_extract(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        if sum(m.file_size for m in members) > MAX_ARCHIVE_BYTES:
            raise ModelPackageError(f"{archive}: too large to be a model package")
        for member in members:
            target = (into / member.filename).resolve()
            if not str(target).startswith(str(into.resolve())):
                raise ModelPackageError(f"{archive}: the entry '{member.filename}' would be written outside the package")
        zipped.extractall(into)


def _package_folder(root: Path) -> Path:
    found = [path.parent for path in root.rglob(METADATA_FILE)]
    if len(found) != 1:
        raise ModelPackageError(f"expected one model package ({METADATA_FILE}) in the import, found {len(found)}")
    return found[0]


def import_package(source: str | Path, models_folder: str | Path, replace: bool = False) -> ModelPackage:
    """Copy the package at ``source`` (a folder or a ``.zip``) into ``models_folder/<name>-<version>`` after
    verifying it; refuses to overwrite an existing one unless ``replace``."""
    source, models_folder = Path(source), Path(models_folder)
    if not source.exists():
        raise ModelPackageError(f"{source}: no such file or folder")
    with tempfile.TemporaryDirectory(prefix="sacral-tumor-ai-import-") as work:
        if source.is_file():
            if not zipfile.is_zipfile(source):
                raise ModelPackageError(f"{source}: not a model package folder or .zip file")
            _safe_extract(source, Path(work))
            folder = _package_folder(Path(work))
        else:
            folder = _package_folder(source)
        package = load_package(folder)  # metadata and checksum, before anything is copied
        target = models_folder / f"{package.name}-{package.version}"
        if target.exists() and not replace:
            raise ModelPackageError(f"{target} exists already; remove it or import with replace")
        models_folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=models_folder))
        try:
            shutil.copytree(folder, staging, dirs_exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return load_package(target)
