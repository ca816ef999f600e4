"""Classification of one case (crop, location features, network, calibration): target <= 2 s on this CPU.

Uses the bundled classifier when there is one, else an untrained network of the bundled configuration
(timing does not depend on the weights). The case is the bundled real CT with its inserted lesion and a
labelmap of the lesion plus the classical hip bones. Prints the median of several runs, the ratio to the
target and the network's share against the compute floor.

    .venv/bin/python benchmarks/bench_classifier.py [--repeats 5] [--config scripts/classifier_config.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compute_floor import forward_flops, matmul_flops_per_second  # noqa: E402

from sacral_tumor_ai.bones.classical import classical_bone_labels  # noqa: E402
from sacral_tumor_ai.classify.predict import Classifier  # noqa: E402
from sacral_tumor_ai.demo import bundled_model_path, demo_case_path  # noqa: E402
from sacral_tumor_ai.hipframe import describe_location  # noqa: E402
from sacral_tumor_ai.io import read_image  # noqa: E402
from sacral_tumor_ai.labels import TUMOR  # noqa: E402
from sacral_tumor_ai.models.package import load_package, save_package  # noqa: E402

TARGET_S = 2.0
ROOT = Path(__file__).resolve().parents[1]


def classifier(config_path: Path) -> tuple[Classifier, str]:
    bundled = bundled_model_path("ct-classifier")
    if (bundled / "model.json").is_file():
        return Classifier(load_package(bundled)), f"bundled {load_package(bundled).version}"
    from sacral_tumor_ai.classify.network import build_classifier
    from sacral_tumor_ai.classify.scalars import DEFAULT_SCALARS
    from sacral_tumor_ai.classify.train import ClsTrainingConfig, package_metadata

    config = ClsTrainingConfig(datalist="", out="", **json.loads(config_path.read_text()))
    standardisation = {s["name"]: {"mean": 0.0, "sd": 1.0, "min": None, "max": None} for s in DEFAULT_SCALARS}
    folder = Path(tempfile.mkdtemp()) / "untrained"
    save_package(build_classifier(config.architecture()).state_dict(), package_metadata(config, standardisation, 1.0, {}, {}), folder)
    return Classifier(load_package(folder)), "untrained network of the bundled configuration"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--config", type=Path, default=ROOT / "scripts" / "classifier_config.json")
    args = parser.parse_args()
    model, which = classifier(args.config)
    ct = read_image(demo_case_path())
    tumour = read_image(str(demo_case_path()).replace(".nii.gz", "_tumor.nii.gz"))
    labels = sitk.GetArrayFromImage(classical_bone_labels(ct))
    labels[sitk.GetArrayViewFromImage(tumour) > 0] = TUMOR.value
    labelmap = sitk.GetImageFromArray(labels)
    labelmap.CopyInformation(ct)
    clinical = {"age": 55, "sex": "M"}
    model.classify(ct, labelmap, clinical, describe_location(labelmap))  # warm-up
    times, network_times = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        location = describe_location(labelmap)
        result = model.classify(ct, labelmap, clinical, location)
        times.append(time.perf_counter() - started)
    import torch

    from sacral_tumor_ai.classify.scalars import vector_length

    image = torch.zeros((1, 2, *reversed(model.crop.size)))
    values = torch.zeros((1, vector_length(model.scalars, model.groups)))
    with torch.no_grad():
        for _ in range(args.repeats):
            started = time.perf_counter()
            model.network(image, values)
            network_times.append(time.perf_counter() - started)
    flops = forward_flops(model.network, image, values)
    rate = matmul_flops_per_second()
    median, network = float(np.median(times)), float(np.median(network_times))
    print(f"classifier      {which}; crop {model.crop.size} voxels; inputs {['image', *model.groups]}")
    print(f"top class       {result['ranking'][0]} ({result['probabilities'][result['ranking'][0]]:.2f})")
    print(f"time per case   {median:.3f} s (location + crop + network, median of {args.repeats}); target {TARGET_S:.1f} s; time / target = {median / TARGET_S:.2f}")
    print(f"network         {network:.3f} s, {flops / 1e9:.1f} GFLOP; machine {rate / 1e9:.0f} GFLOP/s; time / compute floor = {network / (flops / rate):.1f}")


if __name__ == "__main__":
    main()
