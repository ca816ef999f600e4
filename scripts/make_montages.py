"""Montages for docs/: one generated CT and one four-sequence MRI case per tumour class, one lesion
inserted into the real CT, and one generated CT with both hips replaced (metal streaks).

    .venv/bin/python scripts/make_montages.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.demo import demo_ct_path
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.phantom.case import generate_case
from sacral_tumor_ai.phantom.classes import CLASSES, class_by_name
from sacral_tumor_ai.phantom.insert import insert_lesion
from sacral_tumor_ai.phantom.mri import generate_mri_case
from sacral_tumor_ai.phantom.mri_montage import save_mri_montage
from sacral_tumor_ai.preview import save_orthogonal_preview

OUT = Path(__file__).resolve().parents[1] / "docs" / "montages"

if __name__ == "__main__":
    for index, tumour_class in enumerate(CLASSES):
        case = generate_case(2026, index, class_name=tumour_class.name)
        c = case.clinical
        title = f"generated {c['class']}: {c['sex']} {c['age']:.0f} y, zone {c['zone']} {c['sacral_level']}, {c['tumour_volume_ml']:.0f} mL"
        save_orthogonal_preview(case.image, OUT / f"ct_{tumour_class.name}.png", "CT", case.labelmap, title=title)
        mri = generate_mri_case(2026, index, class_name=tumour_class.name)
        save_mri_montage(mri.images, mri.labelmap, OUT / f"mri_{tumour_class.name}.png", f"generated {tumour_class.name}: T1-w, T2-w, DWI b=1000, CET1-w")
    image, labels, info = insert_lesion(read_image(demo_ct_path()), class_by_name("chondrosarcoma"), np.random.default_rng(7))
    save_orthogonal_preview(image, OUT / "ct_real_inserted_chondrosarcoma.png", "CT", labels, title=f"real CT with inserted {info['class']} (zone {info['zone']}, {info['volume_ml']:.0f} mL)")
    case = generate_case(16, 36)  # the first case of seed 16 with both hips replaced
    metal = sitk.GetArrayFromImage(case.image) >= 3000
    heads = np.zeros(metal.shape, np.uint8)  # the views go through the slice with the most metal (the heads)
    widest = int(np.argmax(metal.sum(axis=(1, 2))))
    heads[widest] = metal[widest]
    metal = sitk.GetImageFromArray(heads)
    metal.CopyInformation(case.image)
    title = f"generated {case.clinical['class']} with hip prostheses ({', '.join(case.details['hip_prostheses'])}): slices through the metal"
    save_orthogonal_preview(case.image, OUT / "ct_hip_prostheses.png", "CT", case.labelmap, title=title, focus=metal)
