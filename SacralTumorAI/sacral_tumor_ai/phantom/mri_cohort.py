"""``sacral-tumor-ai cohort --modality mri``: a deterministic four-sequence MRI cohort on disk.

    DIR/images/<case>_{t1,t2,dwi,cet1}.nii.gz   each sequence on its own grid (see phantom/mri.py)
    DIR/labels/<case>.nii.gz                     coarse labels on the T2-w (and T1-w) grid (tumour on 11 slices)
    DIR/labels_fine/<case>.nii.gz                the exact labels on the T2-w grid, for testing
    DIR/labels{,_fine}/<case>_{dwi,cet1}.nii.gz  the same on the DWI and CET1-w grids (drawn on each sequence)

Each data-list item has ``image`` (sequence -> file), ``label``/``label_fine``/``labelled_slices`` for the T2-w
grid, and ``sequences``: sequence -> {image, label, label_fine, labelled_slices} on that sequence's own grid.
    DIR/montages/<case>.png, DIR/clinical.csv, DIR/datalist.json, DIR/dataset.json (as for CT)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sacral_tumor_ai.io import write_image, write_json
from sacral_tumor_ai.phantom.case import ScanSettings
from sacral_tumor_ai.phantom.cohort import common_dataset_fields, finish_cohort, label_table
from sacral_tumor_ai.phantom.coarse import coarse_labels
from sacral_tumor_ai.phantom.mri import MRI_SETTINGS, generate_mri_case, mri_generation_peak_bytes
from sacral_tumor_ai.phantom.mri_montage import save_mri_montage
from sacral_tumor_ai.phantom.parallel import run_cases

COARSE_MARGIN = 5


def _write_labels(out: Path, name: str, labelmap) -> dict[str, Any]:
    coarse, slab = coarse_labels(labelmap, COARSE_MARGIN)
    label = write_image(coarse, out / "labels" / f"{name}.nii.gz")
    fine = write_image(labelmap, out / "labels_fine" / f"{name}.nii.gz")
    return {"label": str(label.relative_to(out)), "label_fine": str(fine.relative_to(out)), "labelled_slices": list(slab) if slab else None}


def _write_mri_case(out: Path, case, montage: bool) -> dict[str, Any]:
    images = {s: str(write_image(image, out / "images" / f"{case.case_id}_{s}.nii.gz").relative_to(out)) for s, image in case.images.items()}
    t2 = _write_labels(out, case.case_id, case.labelmap)
    sequences = {}
    for sequence in images:
        labels = t2 if sequence in ("t1", "t2") else _write_labels(out, f"{case.case_id}_{sequence}", case.sequence_labels[sequence])
        sequences[sequence] = {"image": images[sequence], **labels}
    if montage:
        save_mri_montage(case.images, case.labelmap, out / "montages" / f"{case.case_id}.png", f"{case.case_id} {case.clinical['class']}")
    return {"image": images, **t2, "sequences": sequences}


def _mri_record(out: Path, seed: int, settings: ScanSettings, montage: bool, index: int) -> dict[str, Any]:
    """Make study ``index`` and write its files; returns its record (a worker process's whole job)."""
    case = generate_mri_case(seed, index, settings)
    return {**case.clinical, **_write_mri_case(out, case, montage), "source": "generated"}


def write_mri_cohort(
    out: str | Path,
    cases: int,
    seed: int,
    settings: ScanSettings = MRI_SETTINGS,
    montage: bool = True,
    log: Callable[[str], None] = print,
    workers: int | None = None,
) -> dict[str, Any]:
    """Generate ``cases`` MRI studies and write the layout above; returns dataset.json's content. ``workers``
    as for :func:`~sacral_tumor_ai.phantom.cohort.write_cohort`."""
    out = Path(out)
    peaks = [mri_generation_peak_bytes(seed, index, settings) for index in range(cases)]
    records = run_cases(functools.partial(_mri_record, out, seed, settings, montage), peaks, workers, log)
    counts = finish_cohort(out, records, seed, ("case_id", "image", "label", "label_fine", "labelled_slices", "sequences", "class", "age", "sex"))
    dataset = {
        "name": "SacralTumorAI generated MRI cohort",
        "modality": "MRI",
        "sequences": ["t1", "t2", "dwi", "cet1"],
        "source": "generated",
        "labels": {"grid": "t2", "coarse_margin_slices": COARSE_MARGIN, "table": label_table()},
        **common_dataset_fields(seed, cases, counts),
    }
    write_json(dataset, out / "dataset.json")
    return dataset
