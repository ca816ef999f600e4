"""Make the bundled demo case: the bundled real CT with a chordoma-class lesion inserted in the sacrum
(seed fixed), and its tumour mask. Run once; the outputs are committed under sacral_tumor_ai/data/demo/."""

from __future__ import annotations

import numpy as np

from sacral_tumor_ai.demo import demo_case_path, demo_ct_path
from sacral_tumor_ai.io import read_image, write_image
from sacral_tumor_ai.phantom.classes import class_by_name
from sacral_tumor_ai.phantom.insert import insert_lesion

if __name__ == "__main__":
    image, labels, info = insert_lesion(read_image(demo_ct_path()), class_by_name("chordoma"), np.random.default_rng(2026))
    write_image(image, demo_case_path())
    write_image(labels, demo_case_path().with_name("demo_ct_lesion_tumor.nii.gz"))
    print(info)
