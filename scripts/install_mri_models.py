"""Finish an MRI build: record the measured test metrics (evaluate-mri) in the All-sequence and T2-fusion
packages, write their model cards, and install them as the bundled MRI models
(SacralTumorAI/sacral_tumor_ai/data/models/mri-allseq and mri-t2fusion).

    .venv/bin/python scripts/install_mri_models.py BUILD_DIR [--init-note TEXT] [--fusion-init-note TEXT] [--version X.Y.Z]

``--init-note`` says in the cards where the All-sequence model and the 2D baseline started from, when the
build was given ALLSEQ_INIT/BASELINE_INIT (see build_mri_models.sh); ``--fusion-init-note`` where the T2-fusion
model started from, when not from the build's finished All-sequence model. A build without the 2D baseline
(BUILD_DIR/eval-mri-2d) installs cards that say the 2.5D-2D comparison was not re-measured for them.
"""

from __future__ import annotations

import json
from pathlib import Path

from sacral_tumor_ai.demo import bundled_model_path
from sacral_tumor_ai.models.model_card import write_model_card
from sacral_tumor_ai.models.package import install_package

SEED2 = {  # seed 2's test Dice (Cancer Imaging 2025), for the cards' comparison column
    "2.5D All-sequence: T1-w": 0.659, "2.5D All-sequence: CET1-w": 0.763, "2.5D All-sequence: T2-w": 0.819,
    "2.5D All-sequence: DWI": 0.723, "2.5D T2-fusion: T2-w + CET1-w": 0.833,
}


def _mean(methods: dict, method: str, structure: str = "tumor", metric: str = "dice") -> float | None:
    entry = methods.get(method, {}).get(structure, {}).get(metric)
    return None if entry is None else entry["mean"]


def _bones(methods: dict, method: str) -> float:
    return sum(_mean(methods, method, s) or 0.0 for s in ("hip_left", "hip_right", "sacrum")) / 3


def _limitations(extra: list[str]) -> list[str]:
    return [
        "- No real MRI and no real tumours: every case is generated (docs/data-engine.md). The sequences' contrasts are textbook orderings, not scanner physics; performance on patients is unknown.",
        "- Trained for few epochs on a 2-core CPU (see the training log); seed 2 trained 300 epochs on 400 patients.",
        *extra,
        "- Not for diagnosis or treatment decisions.",
    ]


def _schedule(config: dict) -> str:
    decay = config.get("decay_from_epoch")
    return f" ({config['learning_rate']:g}, then a cosine decay from epoch {decay + 1} to epoch {config['epochs']})" if decay is not None else f" ({config['learning_rate']:g})"


FUSION_INIT = "Initialised from the finished All-sequence model (its best epoch; the CET1-w filters at zero), then trained on T2-w + CET1-w registered by ANTs (rigid + affine)."


def _two_d_comparison(build: Path) -> list[str]:
    """The 2.5D-against-2D table of the build's same-budget runs, or a line saying there is none."""
    path = build / "eval-mri-2d" / "metrics.json"
    if not path.is_file():
        return ["Not re-measured for this package (the build trained no 2D baseline); docs/mri.md holds the last same-budget comparison."]
    budget = json.loads(path.read_text())["methods"]
    two_d = [(m, m.replace("2.5D", "2D")) for m in budget if m.startswith("2.5D All-sequence") and m.replace("2.5D", "2D") in budget]
    gain = ["| input | 2.5D tumour Dice | 2D tumour Dice | 2.5D mean bone Dice | 2D mean bone Dice |", "| --- | --- | --- | --- | --- |"]
    return gain + [
        f"| {a.split(': ')[1]} | {_mean(budget, a):.3f} | {_mean(budget, b):.3f} | {_bones(budget, a):.3f} | {_bones(budget, b):.3f} |" for a, b in two_d
    ]


def main(build: Path, init_note: str = "", fusion_init_note: str = FUSION_INIT, version: str | None = None) -> None:
    evaluation = json.loads((build / "eval-mri" / "metrics.json").read_text())
    table = (build / "eval-mri" / "table.md").read_text().strip().splitlines()
    combined = json.loads((build / "eval-mri-combinations" / "metrics.json").read_text())
    combinations = (build / "eval-mri-combinations" / "table.md").read_text().strip().splitlines()
    methods = evaluation["methods"]
    test = {
        "test_fine_masks": {"cases": evaluation["cases"], "split": evaluation["split"], "methods": methods},
        "test_fine_masks_combinations": {"cases": combined["cases"], "split": combined["split"], "methods": combined["methods"]},
    }
    comparison = ["| method | tumour Dice here | seed 2 (real patients) |", "| --- | --- | --- |"]
    comparison += [f"| {m} | {_mean(methods, m):.3f} | {value:.3f} |" for m, value in SEED2.items() if _mean(methods, m) is not None]
    for name, run, extra in (
        ("mri-allseq", "mri-allseq", ["- Sequence combinations average the model's outputs on each sequence after ANTs registration to the first; the 2D baseline is the same network and training on single slices.", *([f"- {init_note}"] if init_note else [])]),
        ("mri-t2fusion", "mri-t2fusion", [f"- {fusion_init_note}", *([f"- The All-sequence model it started from: {init_note}"] if init_note and fusion_init_note == FUSION_INIT else [])]),
    ):
        package = install_package(build / run / "model", bundled_model_path(name), test, version)
        history = (build / run / "training_log.csv").read_text().strip().splitlines()
        sections = {
            "How it was made": [
                f"Trained by `scripts/build_mri_models.sh` (the project's own `cohort --modality mri`, `train-mri` and `evaluate-mri` commands) on a 2-core CPU with seed 2's regime: coarse labels (largest tumour slice +-5 slices), 12 slices per patient with their neighbours as channels, random crops, flips/rotation/scaling/shift, AdamW{_schedule(package.metadata['training']['config'])}, Dice + cross-entropy (off the drawn slices, voxels within 10 mm of the tumour's footprint scored as 'background or tumour', the rest as background).",
                f"Epochs run: {len(history) - 1}; the package holds the best validation epoch ({package.metadata['metrics']['validation_coarse_labels']['epoch']}, mean Dice on coarse validation labels).",
                f"Test: {evaluation['cases']} held-out generated studies, scored against the fine masks (every tumour slice) on each input's own grid, through the full pipeline (`evaluate-mri`).",
            ],
            f"Results on {evaluation['cases']} held-out generated studies: each sequence alone, and T2-fusion": table,
            f"Sequence combinations (seed 2's Table 3 layout) on the first {combined['cases']} of those studies": combinations,
            "Against seed 2's published figures (different data: theirs are real patients)": comparison,
            "2.5D against 2D (same network, data and 8 epochs each; single slices for 2D)": _two_d_comparison(build),
            "Training log (validation, coarse labels)": ["```", *history, "```"],
            "Limitations": _limitations(extra),
        }
        card = write_model_card(package, sections)
        print(f"installed {package.name} {package.version} into {bundled_model_path(name)}; card {card}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="record test metrics, write model cards, install the MRI models")
    parser.add_argument("build", type=Path)
    parser.add_argument("--init-note", default="", help="where the models started from, for the cards")
    parser.add_argument("--fusion-init-note", default=FUSION_INIT, help="where the T2-fusion model started from, for its card")
    parser.add_argument("--version", help="release both packages under this version (default: the version their runs saved)")
    arguments = parser.parse_args()
    main(arguments.build, arguments.init_note, arguments.fusion_init_note, arguments.version)
