"""Finish a classifier build: record the test metrics and the ablation in the full model's package, write
its model card, and install it as the bundled CT classifier (SacralTumorAI/sacral_tumor_ai/data/models/ct-classifier);
install the clinical + location variant (no image branch) as the classifier for MRI studies
(data/models/clinical-location-classifier).

    .venv/bin/python scripts/install_classifier.py BUILD_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sacral_tumor_ai.demo import bundled_model_path
from sacral_tumor_ai.models.model_card import write_model_card
from sacral_tumor_ai.models.package import install_package

VARIANTS = ("image", "image+clinical", "image+clinical+location", "clinical+location")
LIMITATIONS = [
    "- No real tumours: every case is generated; the classes' appearance and priors are the generator's (docs/data-engine.md), so these numbers say how well the model learnt the generator, not how it would do on patients.",
    "- Trained and tested on ground-truth masks; with the segmentation model's masks, errors add up.",
]


def _ci(values: list[float | None]) -> str:
    return "n/a" if values[0] is None else f"{values[0]:.3f}-{values[1]:.3f}"


def install_imageless(build: Path, reports: dict) -> None:
    """The clinical + location classifier: the one an MRI study gets (its inputs do not depend on modality)."""
    report = reports["clinical+location"]
    target = bundled_model_path("clinical-location-classifier")
    metrics = {"test": {key: report[key] for key in ("macro_auc", "macro_auc_ci95", "macro_f1", "accuracy", "cases", "per_class")}}
    package = install_package(build / "cls-clinical-location" / "model", target, metrics)
    others = ", ".join(f"{v} {r['macro_auc']:.3f}" for v, r in reports.items() if v != "clinical+location")
    sections = {
        "What it is for": [
            "The classifier `sacral-tumor-ai run` uses for MRI studies: age, sex, tumour volume and the tumour's location in the hip-bone frame, without the image branch (the bundled image branch reads CT crops).",
        ],
        "How it was made": ["Trained by `scripts/build_classifier.sh` with `--inputs clinical+location`, on the same generated CT cohort, split and ground-truth masks as the CT classifier (the scalars are defined the same way on CT and MRI)."],
        "Results on held-out generated cases": [
            f"Macro AUC {report['macro_auc']:.3f} (95% CI {_ci(report['macro_auc_ci95'])}), macro F1 {report['macro_f1']:.3f}, accuracy {report['accuracy']:.3f} on {report['cases']} cases; the other input sets on the same cases: {others}.",
        ],
        "Limitations": [*LIMITATIONS, "- On MRI the tumour volume and location come from the MRI model's masks, which were not part of this evaluation.", "- Not for diagnosis or treatment decisions."],
    }
    write_model_card(package, sections)


def main(build: Path) -> None:
    reports = {v: json.loads((build / f"cls-{v.replace('+', '-')}" / "eval-test" / "metrics.json").read_text()) for v in VARIANTS}
    comparison = json.loads((build / "cls-compare" / "comparison.json").read_text())
    full = reports["image+clinical+location"]
    install_imageless(build, reports)
    target = bundled_model_path("ct-classifier")
    metrics = {
        "test": {key: full[key] for key in ("macro_auc", "macro_auc_ci95", "macro_f1", "accuracy", "cases", "per_class")},
        "ablation_test_macro_auc": {v: {"macro_auc": r["macro_auc"], "ci95": r["macro_auc_ci95"], "macro_f1": r["macro_f1"]} for v, r in reports.items()},
    }
    package = install_package(build / "cls-image-clinical-location" / "model", target, metrics)
    history = (build / "cls-image-clinical-location" / "training_log.csv").read_text().strip().splitlines()
    ablation = ["| inputs | macro AUC (95% CI) | macro F1 | accuracy |", "| --- | --- | --- | --- |"]
    ablation += [f"| {v} | {r['macro_auc']:.3f} ({_ci(r['macro_auc_ci95'])}) | {r['macro_f1']:.3f} | {r['accuracy']:.3f} |" for v, r in reports.items()]
    per_class = ["| class | cases | AUC (95% CI) | precision | sensitivity | specificity |", "| --- | --- | --- | --- | --- | --- |"]
    per_class += [f"| {name} | {row['cases']} | {row['auc']:.3f} ({_ci(row['auc_ci95'])}) | {row['precision'] or 0:.2f} | {row['sensitivity'] or 0:.2f} | {row['specificity'] or 0:.2f} |" for name, row in full["per_class"].items()]
    delong = ["| class | AUC full | AUC image only | DeLong z | p |", "| --- | --- | --- | --- | --- |"]
    delong += [f"| {name} | {row['auc_a']:.3f} | {row['auc_b']:.3f} | {row['z']:+.2f} | {row['p_value']:.4f} |" for name, row in comparison["per_class_delong"].items()]
    low, high = comparison["macro_auc_difference_ci95"]
    sections = {
        "How it was made": [
            "Trained by `scripts/build_classifier.sh` (the project's own `cohort`, `train-cls`, `evaluate-cls` and `compare-cls` commands) on a 2-core CPU, on ground-truth tumour masks of generated cases; model chosen by validation macro AUC, temperature fitted on validation.",
            f"Test: {full['cases']} held-out generated cases (stratified split), bootstrap 95% CIs ({full['bootstrap']['samples']} resamples, seed {full['bootstrap']['seed']}).",
        ],
        "Results on held-out generated cases": [f"Macro AUC {full['macro_auc']:.3f} (95% CI {_ci(full['macro_auc_ci95'])}), macro F1 {full['macro_f1']:.3f}, accuracy {full['accuracy']:.3f}.", "", *per_class],
        "Ablation: what each input adds (same test cases)": [*ablation, "", f"Full model vs image only: macro AUC difference {comparison['macro_auc_difference']:+.3f} (paired bootstrap 95% CI {low:+.3f} to {high:+.3f}); per class:", "", *delong],
        "Training log (validation)": ["```", *history, "```"],
        "Limitations": [
            *LIMITATIONS,
            "- A lighter DenseNet than seed 1's DenseNet-121 (see the architecture in model.json), chosen so that training fits a 2-core CPU; DenseNet-121 is the trainer's default.",
            "- Not for diagnosis or treatment decisions.",
        ],
    }
    card = write_model_card(package, sections)
    print(f"installed {package.name} {package.version} into {target}; card {card}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
