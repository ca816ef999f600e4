"""``sacral-tumor-ai cohort``: a deterministic labelled cohort on disk, in a documented layout.

    DIR/dataset.json     what the cohort is: generator version, seed, label table, class names, counts
    DIR/datalist.json    MONAI-style {"training", "validation", "test"} lists (stratified by class, 70/15/15);
                         items of a real-CT cohort carry "labelled": ["tumor"] (its bones are not labelled)
    DIR/clinical.csv     case_id, split, class, age, sex, zone, side, sacral_level, tumour_volume_ml, source,
                         hip_prosthesis (left, right, left+right or empty; generated CT only)
    DIR/images/<case>_ct.nii.gz, DIR/labels/<case>.nii.gz, DIR/montages/<case>.png
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.io import atomic_output, read_image, write_image, write_json
from sacral_tumor_ai.labels import LABELS, terminology_string
from sacral_tumor_ai.phantom.case import GENERATOR_VERSION, ScanSettings, case_rng, first_cases, generate_case, generation_peak_bytes
from sacral_tumor_ai.phantom.classes import CLASS_NAMES, CLASSES, class_by_name, sample_class
from sacral_tumor_ai.phantom.parallel import run_cases

SPLIT_SHARES = (("training", 0.70), ("validation", 0.15), ("test", 0.15))
CSV_COLUMNS = ("case_id", "split", "class", "age", "sex", "zone", "side", "sacral_level", "tumour_volume_ml", "source", "hip_prosthesis")


def stratified_splits(classes: list[str], seed: int) -> list[str]:
    """A split name per case: within each class, a seeded shuffle cut 70/15/15 (at least one training case)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 999_983]))
    splits = [""] * len(classes)
    for name in sorted(set(classes)):
        members = [i for i, c in enumerate(classes) if c == name]
        rng.shuffle(members)
        n = len(members)
        n_validation = int(round(n * SPLIT_SHARES[1][1]))
        n_test = int(round(n * SPLIT_SHARES[2][1]))
        n_training = max(1, n - n_validation - n_test)
        for position, index in enumerate(members):
            splits[index] = "training" if position < n_training else ("validation" if position < n_training + n_validation else "test")
    return splits


def write_case_files(out: Path, case_id: str, image: sitk.Image, labelmap: sitk.Image, montage: bool = False) -> dict[str, str]:
    """Write one case's image, labelmap (and montage) in the cohort layout under ``out``; returns the image's
    and the label's paths relative to ``out``, as a datalist holds them."""
    from sacral_tumor_ai.preview import save_orthogonal_preview

    image_path = write_image(image, out / "images" / f"{case_id}_ct.nii.gz")
    label_path = write_image(labelmap, out / "labels" / f"{case_id}.nii.gz")
    if montage:
        save_orthogonal_preview(image, out / "montages" / f"{case_id}.png", "CT", labelmap, title=case_id)
    return {"image": str(image_path.relative_to(out)), "label": str(label_path.relative_to(out))}


def label_table() -> list[dict[str, Any]]:
    return [{"name": label.name, "value": label.value, "terminology": terminology_string(label)} for label in LABELS]


def common_dataset_fields(seed: int, cases: int, counts: dict[str, int]) -> dict[str, Any]:
    """dataset.json fields shared by CT and MRI cohorts."""
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "cases": cases,
        "classes": list(CLASS_NAMES),
        "class_priors": {c.name: c.prevalence for c in CLASSES},
        "counts": counts,
        "note": "Synthetic data made by SacralTumorAI's generator; not patient data. Not for diagnostic use.",
    }


def finish_cohort(out: Path, records: list[dict[str, Any]], seed: int, datalist_keys: tuple[str, ...]) -> dict[str, int]:
    """Assign stratified splits, then write datalist.json and clinical.csv; returns the split counts."""
    for record, split in zip(records, stratified_splits([r["class"] for r in records], seed)):
        record["split"] = split
    datalist = {name: [{k: r[k] for k in datalist_keys} for r in records if r["split"] == name] for name, _ in SPLIT_SHARES}
    write_json(datalist, out / "datalist.json")
    with atomic_output(out / "clinical.csv") as temporary, temporary.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)
    return {name: len(items) for name, items in datalist.items()}


# insert_case on the bundled real CT (122 x 101 x 112 voxels) peaks under 0.25 GB (2026-11-28).
INSERTION_PEAK_BYTES = 0.5e9


@functools.lru_cache(maxsize=1)
def _real_ct() -> sitk.Image:
    """The bundled real CT, read once per process (each worker has its own)."""
    from sacral_tumor_ai.demo import demo_ct_path

    return read_image(demo_ct_path())


def _ct_record(out: Path, seed: int, source: str, settings: ScanSettings, montage: bool, indices: tuple[int, ...], position: int) -> dict[str, Any]:
    """Make case ``indices[position]`` and write its files; returns its clinical record (a worker process's whole job)."""
    index = indices[position]
    if source == "real":
        from sacral_tumor_ai.phantom.insert import insert_case

        rng = case_rng(seed, index)
        image, labelmap, info = insert_case(_real_ct(), sample_class(rng), rng)
        case_id = f"real{seed:03d}_{index:05d}"
        clinical = {"case_id": case_id, "class": info["class"], "age": info["age"], "sex": info["sex"], "zone": info["zone"], "side": "", "sacral_level": "", "tumour_volume_ml": info["volume_ml"], "labelled": ["tumor"]}
    else:
        case = generate_case(seed, index, settings)
        image, labelmap, case_id = case.image, case.labelmap, case.case_id
        clinical = {**case.clinical, "hip_prosthesis": prosthesis_sides(case.details)}
    return {**clinical, **write_case_files(out, case_id, image, labelmap, montage), "source": source}


def _case_indices(cases: int, seed: int, source: str, settings: ScanSettings, prostheses_only: bool) -> tuple[int, ...]:
    """The case indices a cohort generates: 0 to ``cases`` - 1, or the first ``cases`` with a hip prosthesis."""
    if not prostheses_only:
        return tuple(range(cases))
    if source != "generated" or not settings.implants:
        raise SacralTumorAIError("--prostheses-only needs generated CT with prostheses (not --no-prostheses or --source real)")
    limit = 20 * cases + 100  # about 12 % of cases have one: 20 x is ample
    indices = first_cases(seed, cases, settings, with_prostheses=True, limit=limit)
    if len(indices) < cases:
        raise SacralTumorAIError(f"only {len(indices)} of the first {limit} cases of seed {seed} have a hip prosthesis")
    return tuple(indices)


def prosthesis_sides(details: dict[str, Any]) -> str:
    """A generated case's hip prostheses as clinical.csv writes them: "left", "right", "left+right" or ""."""
    return "+".join(details["hip_prostheses"])


def write_cohort(
    out: str | Path,
    cases: int,
    seed: int,
    source: str = "generated",
    settings: ScanSettings = ScanSettings(),
    montage: bool = True,
    log: Callable[[str], None] = print,
    workers: int | None = None,
    prostheses_only: bool = False,
) -> dict[str, Any]:
    """Generate ``cases`` CT cases (``source`` "generated", or "real" for lesions inserted into the bundled
    real CT) and write the layout above; returns dataset.json's content. ``workers``: processes generating
    cases at once (default: the available cores, within the memory; see :mod:`.parallel`).
    ``prostheses_only``: the cohort's first ``cases`` cases that have a hip prosthesis, each with the case id
    (and so the patient) it has in the full cohort, to train or test a model on metal."""
    out = Path(out)
    indices = _case_indices(cases, seed, source, settings, prostheses_only)
    if source == "real":
        peaks = [INSERTION_PEAK_BYTES] * cases
    else:
        peaks = [generation_peak_bytes(seed, index, settings) for index in indices]
    records = run_cases(functools.partial(_ct_record, out, seed, source, settings, montage, indices), peaks, workers, log)
    keys = ("case_id", "image", "label", "class", "age", "sex") + (("labelled",) if source == "real" else ())
    counts = finish_cohort(out, records, seed, keys)
    dataset = {
        "name": "SacralTumorAI generated cohort",
        "modality": "CT",
        "source": source,
        "labels": {"tumor_only" if source == "real" else "all": True, "table": label_table()},
        "hip_prostheses": {"enabled": source == "generated" and settings.implants, "cases": sum(bool(r.get("hip_prosthesis")) for r in records), "only": prostheses_only},
        **common_dataset_fields(seed, cases, counts),
    }
    write_json(dataset, out / "dataset.json")
    return dataset


__all__ = ["CSV_COLUMNS", "class_by_name", "prosthesis_sides", "stratified_splits", "write_case_files", "write_cohort"]
