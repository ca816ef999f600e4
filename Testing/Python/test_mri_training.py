"""train-mri and evaluate-mri on a tiny generated MRI cohort: export, resume, fusion caching, Table 3 layout."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sacral_tumor_ai.cli import main
from sacral_tumor_ai.labels import TUMOR


@pytest.fixture(scope="module")
def tiny_mri_datalist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sacral_tumor_ai.phantom.case import ScanSettings
    from sacral_tumor_ai.phantom.mri_cohort import write_mri_cohort

    folder = tmp_path_factory.mktemp("mri-cohort")
    write_mri_cohort(folder, 3, 5, ScanSettings(size=(96, 96, 40), in_plane_mm=(3.0, 3.5), slice_mm=(3.0, 5.0)), montage=False, log=lambda _: None)
    items = [item for split in json.loads((folder / "datalist.json").read_text()).values() for item in split]
    path = folder / "tiny.json"
    path.write_text(json.dumps({"training": items[:2], "validation": items[2:], "test": items[2:]}))
    return path


def _train(datalist: Path, out: Path, epochs: int, **settings) -> int:
    config = out.parent / f"{out.name}.json"
    config.write_text(json.dumps({"crop": 64, "decoder_channels": [16, 16, 8, 8, 8], "slices_per_case": 4, "sequences": ["t2"], **settings}))
    return main(["train-mri", "--datalist", str(datalist), "--out", str(out), "--config", str(config), "--epochs", str(epochs), "--resume"])


def test_trains_exports_and_resumes(tiny_mri_datalist: Path, tmp_path: Path) -> None:
    from sacral_tumor_ai.models.package import load_package

    run = tmp_path / "run"
    assert _train(tiny_mri_datalist, run, 1) == 0
    package = load_package(run / "model")
    assert package.metadata["modality"] == "MR" and package.metadata["architecture"]["name"] == "UnetMobileNetV2"
    assert package.metadata["mri"]["inputs"] == ["any"] and package.metadata["architecture"]["params"]["in_channels"] == 3
    assert package.metadata["training"]["encoder_initialisation"].startswith("random")
    assert _train(tiny_mri_datalist, run, 2) == 0  # resumes after epoch 1
    with (run / "training_log.csv").open() as stream:
        assert [row["epoch"] for row in csv.DictReader(stream)] == ["1", "2"]


def test_a_resumed_run_can_be_extended_with_a_learning_rate_decay(tiny_mri_datalist: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _train(tiny_mri_datalist, run, 1) == 0
    assert _train(tiny_mri_datalist, run, 4, decay_from_epoch=2) == 0
    with (run / "training_log.csv").open() as stream:
        rates = [row["learning_rate"] for row in csv.DictReader(stream)]
    assert [float(rate) for rate in rates] == pytest.approx([5e-4, 5e-4, 5e-4, 5e-4 * (0.02 + 0.98 * 0.5)])


def test_fusion_cache_registers_cet1_onto_the_t2_grid(tiny_mri_datalist: Path, tmp_path: Path) -> None:
    from sacral_tumor_ai.training.datalist import load_datalist
    from sacral_tumor_ai.training.mri_data import FUSION, cache_mri_case
    from sacral_tumor_ai.mriseg.spec import MriModelSpec

    item = load_datalist(tiny_mri_datalist, "training")[0]
    case = cache_mri_case(item, FUSION, MriModelSpec(("t2", "cet1")), tmp_path)
    assert case["image"].shape[0] == 2 and case["image"].shape[1:] == case["label"].shape == case["known"].shape
    first, last = item["labelled_slices"]
    known_slices = np.flatnonzero(case["known"].any(axis=(1, 2)))
    assert known_slices.size and (case["label"][~case["known"]] != TUMOR.value).all()
    assert known_slices.min() <= last and known_slices.max() >= first
    cet1 = case["image"][1].astype(np.float32)
    assert np.isfinite(cet1).all() and cet1.std() > 0.5 and not np.array_equal(cet1, case["image"][0])


def test_encoder_weights_from_a_local_file(tmp_path: Path) -> None:
    import torch
    import torchvision

    from sacral_tumor_ai.models.networks import build_network
    from sacral_tumor_ai.training.mri_train import load_encoder_weights

    reference = torchvision.models.mobilenet_v2(weights=None)  # stands in for ImageNet weights: same layout, no download
    torch.save(reference.state_dict(), tmp_path / "mobilenet_v2.pth")
    network = build_network({"name": "UnetMobileNetV2", "params": {"in_channels": 6, "out_channels": 5}})
    assert load_encoder_weights(network, tmp_path / "mobilenet_v2.pth") > 100
    weights = network.encoder.state_dict()
    assert torch.equal(weights["features.1.conv.0.0.weight"], reference.state_dict()["features.1.conv.0.0.weight"])
    assert weights["features.0.0.weight"].shape[1] == 6
    torch.save({"something": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(Exception, match="no tensor matches"):
        load_encoder_weights(network, tmp_path / "other.pth")


@pytest.fixture(scope="module")
def tiny_model(tiny_mri_datalist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("mri-run") / "run"
    assert _train(tiny_mri_datalist, run, 1) == 0
    return run / "model"


def test_fusion_starts_from_the_all_sequence_weights(tiny_model: Path) -> None:
    import torch

    from sacral_tumor_ai.models.networks import build_network, load_network
    from sacral_tumor_ai.models.package import load_package
    from sacral_tumor_ai.training.mri_train import MriTrainingConfig, initial_weights

    allseq = load_network(load_package(tiny_model))
    settings = load_package(tiny_model).metadata["training"]["config"]
    fusion = build_network(MriTrainingConfig("d", "o", model="t2-fusion", decoder_channels=tuple(settings["decoder_channels"])).architecture())
    initial_weights(fusion, tiny_model)
    fusion.eval()
    t2, cet1 = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(allseq(t2), fusion(torch.cat([t2, cet1], dim=1)), atol=1e-5)  # CET1-w filters start at zero


def test_evaluate_mri_writes_table3_layout(tiny_mri_datalist: Path, tiny_model: Path, tmp_path: Path) -> None:
    run = tiny_model.parent
    out = tmp_path / "eval"
    code = main(["evaluate-mri", "--model", str(run / "model"), "--baseline-2d", str(run / "model"), "--datalist", str(tiny_mri_datalist), "--out", str(out), "--sequences", "t2", "cet1", "dwi", "--largest-combination", "2"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    methods = list(metrics["methods"])
    assert len(methods) == 3 + 3 + 3  # singles, pairs, 2D singles
    assert "2.5D All-sequence: T2-w + CET1-w" in methods and "2D All-sequence: DWI" in methods
    table = (out / "table.md").read_text()
    assert table.count("\n") == 2 + len(methods)
    with (out / "metrics.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert {row["method"] for row in rows} <= set(methods)
    assert all(0.0 <= float(row["dice"]) <= 1.0 for row in rows)
