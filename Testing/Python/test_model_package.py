"""Model packages: written atomically, verified by checksum, loaded without pickles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sacral_tumor_ai.models.networks import build_network, load_network
from sacral_tumor_ai.models.package import ModelPackageError, load_package, save_package

ARCHITECTURE = {
    "name": "SegResNetDS",
    "params": {"init_filters": 4, "in_channels": 2, "out_channels": 5, "blocks_down": [1, 1, 1], "dsdepth": 1},
}


def _metadata() -> dict:
    return {
        "name": "test-model",
        "version": "0.0.1",
        "task": "segmentation",
        "modality": "CT",
        "architecture": ARCHITECTURE,
        "licence": "Apache-2.0",
        "intended_use": "tests only",
    }


@pytest.fixture
def package_folder(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    network = build_network(ARCHITECTURE)
    save_package(network.state_dict(), _metadata(), tmp_path / "model")
    return tmp_path / "model"


def test_round_trip_gives_the_same_outputs(package_folder: Path) -> None:
    torch.manual_seed(0)
    original = build_network(ARCHITECTURE).eval()
    loaded = load_network(load_package(package_folder))
    x = torch.randn(1, 2, 16, 16, 16)
    with torch.no_grad():
        # float16 storage: outputs agree to half precision of the weights
        torch.testing.assert_close(loaded(x), original(x), atol=2e-2, rtol=2e-2)
    metadata = json.loads((package_folder / "model.json").read_text())
    assert metadata["weights"]["dtype"] == "float16" and len(metadata["weights"]["sha256"]) == 64
    assert sorted(p.name for p in package_folder.parent.iterdir()) == ["model"]


def test_tampered_weights_are_refused(package_folder: Path) -> None:
    weights = package_folder / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelPackageError, match="checksum mismatch"):
        load_package(package_folder)


def test_incomplete_packages_are_refused(package_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match="not a model package"):
        load_package(tmp_path)
    metadata = json.loads((package_folder / "model.json").read_text())
    del metadata["licence"]
    (package_folder / "model.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelPackageError, match="missing metadata licence"):
        load_package(package_folder)


def test_weights_that_do_not_fit_the_architecture(package_folder: Path) -> None:
    metadata = json.loads((package_folder / "model.json").read_text())
    metadata["architecture"]["params"]["init_filters"] = 8
    (package_folder / "model.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelPackageError, match="do not fit the architecture"):
        load_network(load_package(package_folder))


def test_model_card_states_use_and_checksum(package_folder: Path) -> None:
    from sacral_tumor_ai.models.model_card import metrics_table, write_model_card

    package = load_package(package_folder)
    table = metrics_table({"tumor": {"dice": {"mean": 0.861, "sd": 0.052}, "cases": 12}}, ("dice", "cases"))
    card = write_model_card(package, {"Results": table}).read_text()
    assert "tests only" in card and package.metadata["weights"]["sha256"] in card
    assert "| tumor | 0.861 ± 0.052 | 12 |" in card
    # A distance left undefined by a missed tumour says so: its mean is over the other cases.
    missed = {"tumor": {"hd95_mm": {"mean": 6.167, "sd": 2.901, "undefined": 1}}}
    assert metrics_table(missed, ("hd95_mm",))[2] == "| tumor | 6.167 ± 2.901 (1 undefined) |"
    # The card is beside the weights but not part of the checksum: adding it keeps the package loadable.
    assert load_package(package_folder).name == "test-model"


def test_install_replaces_the_target_and_records_metrics(package_folder: Path, tmp_path: Path) -> None:
    from sacral_tumor_ai.models.package import install_package

    target = tmp_path / "bundled" / "model"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("from an older model")
    before = load_package(package_folder).metadata.get("metrics", {})
    installed = install_package(package_folder, target, {"test": {"dice": 0.5}})
    assert installed.metadata["metrics"] == {**before, "test": {"dice": 0.5}}
    assert not (target / "stale.txt").exists()
    assert installed.metadata["weights"] == load_package(package_folder).metadata["weights"]
    assert installed.metadata["version"] == load_package(package_folder).metadata["version"]
    assert install_package(package_folder, target, {}, version="9.1.0").version == "9.1.0"
