"""Model packages a user has and imports, and MRI sequence guesses from series descriptions."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from sacral_tumor_ai.demo import bundled_model_path
from sacral_tumor_ai.models.library import import_package, list_packages
from sacral_tumor_ai.models.package import ModelPackageError
from sacral_tumor_ai.mriseg.sequence_names import guess_sequence


def _copy(name: str, into: Path) -> Path:
    return Path(shutil.copytree(bundled_model_path(name), into / name))


def test_bundled_packages_are_listed_usable() -> None:
    entries = {entry.name: entry for entry in list_packages()}
    assert {"sacral-ct-seg", "sacral-mri-allseq", "sacral-mri-t2fusion", "sacral-tumour-classifier"} <= set(entries)
    assert all(entry.bundled and not entry.problem for entry in entries.values())


def test_import_verifies_and_lists_a_tampered_package_with_its_problem(tmp_path: Path) -> None:
    models = tmp_path / "models"
    package = import_package(_copy("ct-classifier", tmp_path / "a"), models)
    assert package.folder == models / f"{package.name}-{package.version}"
    with pytest.raises(ModelPackageError, match="exists already"):
        import_package(_copy("ct-classifier", tmp_path / "b"), models)
    weights = package.folder / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"XXXX")
    listed = [entry for entry in list_packages(models) if not entry.bundled]
    assert len(listed) == 1 and "checksum" in listed[0].problem
    tampered = _copy("ct-seg", tmp_path / "c")
    (tampered / "weights.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelPackageError, match="checksum"):
        import_package(tampered, models)
    assert sorted(p.name for p in models.iterdir()) == [package.folder.name]  # nothing half-imported


def test_import_from_zip_and_refuse_an_escaping_entry(tmp_path: Path) -> None:
    source = _copy("clinical-location-classifier", tmp_path)
    archive = tmp_path / "package.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in source.iterdir():
            zipped.write(file, f"clinical/{file.name}")
    package = import_package(archive, tmp_path / "models")
    assert package.name == "sacral-tumour-classifier-clinical-location"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zipped:
        zipped.writestr("../outside.txt", "x")
    with pytest.raises(ModelPackageError, match="outside"):
        import_package(evil, tmp_path / "models2")
    assert not (tmp_path / "outside.txt").exists()
    not_zip = tmp_path / "weights.bin"
    not_zip.write_bytes(b"\x00" * 10)
    with pytest.raises(ModelPackageError, match="not a model package"):
        import_package(not_zip, tmp_path / "models3")


@pytest.mark.parametrize(
    ("description", "sequence"),
    [
        ("T2_TSE_AX", "t2"), ("STIR COR", "t2"), ("T1 FSE AX", "t1"), ("t1_tse_tra", "t1"),
        ("t1_vibe_fs_tra_post_gd", "cet1"), ("AX T1 +C FS", "cet1"), ("CET1-w", "cet1"),
        ("ep2d_diff_b50_400_800", "dwi"), ("DWI b=1000", "dwi"), ("ADC", None), ("Pelvis CT", None),
    ],
)
def test_sequence_guess_from_series_description(description: str, sequence: str | None) -> None:
    assert guess_sequence(description) == sequence
