"""The tumour pieces a CT model package draws on a scan, on the model grid, before post-processing: volume,
the tumour's softmax probability (maximum, mean), median HU (within the -100..300 window), slice range.

    .venv/bin/python scripts/tumour_pieces.py MODEL_DIR CT_FILE

Used to tell false tumour (a lesion-free scan's bladder) from true tumour by the network's confidence
(docs/ct-segmentation.md, the v0.12.1 candidate).
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import ndimage

from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.models.package import load_package
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.ctseg.preprocess import prepare_ct
from sacral_tumor_ai.ctseg.inference import predict_probabilities, decide_labels
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.labels import TUMOR


def pieces(package_dir: str, image_path: str) -> list[dict]:
    package = load_package(package_dir)
    spec = CTModelSpec.from_metadata(package.metadata)
    prepared = prepare_ct(read_image(image_path), spec)
    probs = predict_probabilities(load_network(package, "cpu"), prepared.channels, spec)
    labels = decide_labels(probs, spec)
    t = spec.label_values().index(TUMOR.value)
    tumour_p = probs[t]
    hu = prepared.channels[0] * 400 - 100  # window -100..300, clipped
    lab, n = ndimage.label(labels == TUMOR.value)
    ml = float(np.prod(prepared.grid.GetSpacing())) / 1000
    out = []
    for i in range(1, n + 1):
        m = lab == i
        zz = np.nonzero(m)[0]
        out.append(dict(ml=round(float(m.sum()) * ml, 2), pmax=round(float(tumour_p[m].max()), 3), pmean=round(float(tumour_p[m].mean()), 3),
                        hu_median=round(float(np.median(hu[m])), 1), z=(int(zz.min()), int(zz.max()))))
    return sorted(out, key=lambda d: -d["ml"])

if __name__ == "__main__":
    for piece in pieces(sys.argv[1], sys.argv[2])[:8]:
        print(piece)
