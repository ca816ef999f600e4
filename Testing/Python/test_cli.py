"""The command line as a user runs it: the main job on the bundled CT, and clear errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sacral_tumor_ai.cli import main


def test_info_on_the_bundled_ct(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "122 x 101 x 112" in printed and "modality     CT" in printed
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["size"] == [122, 101, 112] and info["orientation"] == "RAS"
    assert info["modality"]["guess"] == "CT"
    png = (tmp_path / "preview.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_info_on_the_mr_and_dicom(tmp_path: Path, real_mr_path: Path, dicom_folder: Path) -> None:
    assert main(["info", str(real_mr_path), "--out", str(tmp_path / "mr"), "--json"]) == 0
    assert json.loads((tmp_path / "mr" / "info.json").read_text())["modality"]["guess"] == "MR"
    assert main(["info", str(dicom_folder), "--out", str(tmp_path / "dicom")]) == 0
    assert json.loads((tmp_path / "dicom" / "info.json").read_text())["modality"]["source"] == "dicom"


def test_bad_input_exits_non_zero_and_writes_nothing(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00garbage")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "sacral_tumor_ai", "info", str(corrupt), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert str(corrupt) in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_series_lists_the_dicom_folder(dicom_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["series", str(dicom_folder)]) == 0
    assert "CT Body 3.0" in capsys.readouterr().out


def test_classify_command_on_a_corrected_labelmap(tmp_path: Path, real_ct_path: Path) -> None:
    import json

    import SimpleITK as sitk

    from conftest import block_labelmap
    from sacral_tumor_ai.cli import main
    from sacral_tumor_ai.io import read_image

    labelmap = tmp_path / "corrected.nii.gz"
    sitk.WriteImage(block_labelmap(read_image(real_ct_path)), str(labelmap))
    out = tmp_path / "classified.json"
    assert main(["classify", str(real_ct_path), str(labelmap), "--out", str(out), "--age", "40", "--sex", "F"]) == 0
    result = json.loads(out.read_text())
    assert result["classification"]["available"] and abs(sum(result["classification"]["probabilities"].values()) - 1) < 1e-3
    assert result["classification"]["clinical_used"] == {"age": 40.0, "sex": "F"}
    assert result["volumes_ml"]["tumor"] > 0 and "available" in result["location"]
    assert main(["classify", str(real_ct_path), str(labelmap), "--out", str(tmp_path / "x.json"), "--sex", "X"]) == 2
    assert not (tmp_path / "x.json").exists()
