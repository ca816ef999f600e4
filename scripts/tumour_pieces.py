"""The tumour pieces a CT model package draws, on the model grid, before post-processing: volume, the tumour's
softmax probability (maximum, mean), median HU (within the first input window), slice range; pieces are
26-connected, as the pipeline's post-processing counts them. With ``--datalist``, every case of a split, each
piece marked by whether it touches the labelled tumour.

    .venv/bin/python scripts/tumour_pieces.py MODEL_DIR CT_FILE
    .venv/bin/python scripts/tumour_pieces.py MODEL_DIR --datalist DATALIST [--split test]

Used to tell false tumour (a lesion-free scan's bladder) from true tumour by the network's confidence
(docs/ct-segmentation.md, the v0.12.1 candidate).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from sacral_tumor_ai.ctseg.inference import decide_labels, predict_probabilities
from sacral_tumor_ai.ctseg.postprocess import tumour_pieces
from sacral_tumor_ai.ctseg.preprocess import prepare_ct
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.labels import TUMOR
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.models.package import load_package
from sacral_tumor_ai.training.datalist import load_datalist


def pieces(network, spec: CTModelSpec, image: sitk.Image, label: sitk.Image | None = None) -> list[dict[str, Any]]:
    """The tumour pieces the network draws on ``image``, largest first; with ``label`` (the reference), each
    says whether it touches the labelled tumour."""
    prepared = prepare_ct(image, spec)
    probabilities = predict_probabilities(network, prepared.channels, spec)
    components, _ = tumour_pieces(decide_labels(probabilities, spec))
    probability = probabilities[spec.tumour_channel()]
    low, high = spec.windows[0]
    hu = low + prepared.channels[0] * (high - low)
    truth = None
    if label is not None:
        truth = sitk.GetArrayFromImage(sitk.Resample(label, prepared.grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0)) == TUMOR.value
    voxel_ml = float(np.prod(prepared.grid.GetSpacing())) / 1000
    found = []
    for number, box in enumerate(ndimage.find_objects(components), start=1):
        piece = components[box] == number
        row = {
            "ml": round(float(piece.sum()) * voxel_ml, 2),
            "p_max": round(float(probability[box][piece].max()), 3),
            "p_mean": round(float(probability[box][piece].mean()), 3),
            "hu_median": round(float(np.median(hu[box][piece])), 1),
            "slices": (box[0].start, box[0].stop - 1),
        }
        if truth is not None:
            row["true"] = bool(truth[box][piece].any())
        found.append(row)
    return sorted(found, key=lambda row: -row["ml"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("image", nargs="?")
    parser.add_argument("--datalist")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    if (args.image is None) == (args.datalist is None):
        parser.error("give a CT file or --datalist, not both")
    package = load_package(args.model)
    spec, network = CTModelSpec.from_metadata(package.metadata), load_network(package, "cpu")
    if args.image:
        for row in pieces(network, spec, read_image(args.image))[:8]:
            print(row)
        return
    rows = []
    for item in load_datalist(args.datalist, args.split):
        found = pieces(network, spec, read_image(item["image"]), read_image(item["label"]))
        rows += found
        print(item["case_id"], [row for row in found if row["ml"] > 0.1], flush=True)
    for kind in (True, False):
        chosen = [row["p_max"] for row in rows if row["true"] is kind]
        if chosen:
            print(f"{'true' if kind else 'false'} pieces: {len(chosen)}, maximum probability {min(chosen):.3f}-{max(chosen):.3f}")


if __name__ == "__main__":
    main()
