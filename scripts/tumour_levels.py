"""Tumour Dice on the model grid, per case, at several probability levels: which way a CT model's tumours are
wrong. A case whose Dice rises with the level is drawn too large (an uncertain rim around it); one whose Dice
falls is drawn too small. The tumour is called where its probability's share of (tumour + the strongest other
label) exceeds the level; no post-processing, no decision offset, no confidence level.

    .venv/bin/python scripts/tumour_levels.py --model PACKAGE --datalist DATALIST [--split test] [--mirror]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sacral_tumor_ai.ctseg.inference import predict_probabilities
from sacral_tumor_ai.ctseg.preprocess import labels_to_grid, prepare_ct
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.evaluation.segmentation_metrics import dice
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.labels import TUMOR
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.models.package import load_package
from sacral_tumor_ai.training.datalist import load_datalist

LEVELS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def dice_by_level(probabilities: np.ndarray, tumour_channel: int, reference: np.ndarray) -> list[float]:
    tumour = probabilities[tumour_channel]
    others = np.delete(probabilities, tumour_channel, axis=0).max(axis=0)
    share = tumour / (tumour + others + 1e-8)
    return [dice(share > level, reference) for level in LEVELS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--datalist", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--mirror", action="store_true", help="average with the left-right mirrored pass")
    args = parser.parse_args()
    package = load_package(args.model)
    network, spec = load_network(package), CTModelSpec.from_metadata(package.metadata)
    rows = []
    print("case", *LEVELS)
    for item in load_datalist(args.datalist, args.split):
        prepared = prepare_ct(read_image(item["image"]), spec)
        reference = labels_to_grid(read_image(item["label"]), prepared.grid) == TUMOR.value
        probabilities = predict_probabilities(network, prepared.channels, spec, mirror=args.mirror)
        rows.append(dice_by_level(probabilities, spec.tumour_channel(), reference))
        print(item.get("case_id", Path(item["image"]).name), *(f"{value:.3f}" for value in rows[-1]), flush=True)
    means = np.mean(rows, axis=0)
    print("mean", *(f"{value:.3f}" for value in means))
    print(json.dumps({"model": args.model, "split": args.split, "mirror": args.mirror, "mean_dice_by_level": dict(zip(map(str, LEVELS), means.round(4).tolist()))}))


if __name__ == "__main__":
    main()
