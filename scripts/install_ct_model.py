"""Finish a CT segmentation build: record the measured test metrics in the package, write its model card,
and install it as the bundled model (SacralTumorAI/sacral_tumor_ai/data/models/ct-seg). The package is the
calibrated one where it exists (BUILD/ct-seg-tumour-edges from ``calibrate-tumour-edges``, else BUILD/ct-seg-conf
from ``calibrate-confidence``, else BUILD/ct-seg-edges from
``calibrate-edges``, else BUILD/ct-seg-cal from ``calibrate-seg``), else the trained one. A recalibration
(``CT_RECALIBRATE`` in ``build_ct_model.sh``) has no training run: BUILD/recalibrated-from holds the package
it started from, whose card gives how its weights were made and their training log.

    .venv/bin/python scripts/install_ct_model.py BUILD_DIR
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from sacral_tumor_ai.demo import bundled_model_path
from sacral_tumor_ai.models.model_card import metrics_table, write_model_card
from sacral_tumor_ai.models.package import METADATA_FILE, ModelPackage, install_package

COLUMNS = ("dice", "iou", "hd95_mm", "cases")
TUMOUR_TARGET = 0.85  # issue #4: tumour Dice on held-out generated cases


def _calibration(package) -> list[str]:
    """The card's lines on the decision offsets and test-time mirroring, from the package's metadata."""
    inference = package.metadata.get("inference", {})
    record = inference.get("calibration")
    if not record:
        return ["None: plain arg-max of the softmax, no test-time mirroring."]
    before, after = record["validation_dice_before"], record["validation_dice_after"]
    return [
        f"Chosen on the validation split of {', '.join(Path(d).parent.name for d in record['datalists'])} "
        f"({record['cases']} cases; never the test cases): {record['method']}. The weights are those of the training run.",
        "",
        f"- Test-time left-right mirroring: {'on' if inference.get('mirror_left_right') else 'off'}",
        _window(package),
        f"- Offsets added to each label's log-probability: {json.dumps(inference['decision_offsets'])} (negative: the label must be more probable to win a voxel)",
        "- Validation Dice on the model grid, before -> after: " + ", ".join(f"{name} {before[name]:.3f} -> {after[name]:.3f}" for name in before),
    ]


def _window(package) -> str:
    """The card's line on the sliding window, beside the size the network was trained on."""
    model_input = package.metadata["input"]
    window, overlap = model_input["patch_size"], model_input.get("overlap", 0.25)
    config = package.metadata.get("training", {}).get("config", {})
    trained = config.get("train_patch_size") or config.get("patch_size")
    size = "x".join(str(v) for v in window)
    if trained is None:
        return f"- Sliding window: {size} voxels, overlap {overlap:g}"
    same = list(trained) == list(window)
    return (
        f"- Sliding window: {size} voxels, overlap {overlap:g} "
        + ("(the training patches' size: the network's instance normalisation sees what it learned from)" if same else
           f"(training patches: {'x'.join(str(v) for v in trained)}; with instance normalisation a window of another size is another input)")
    )


def _bone_edges(package) -> list[str]:
    """The card's lines on the bone-edge refinement, from the package's metadata."""
    inference = package.metadata.get("inference", {})
    record, edges = inference.get("bone_edges_calibration"), inference.get("bone_edges")
    if not record:
        return ["None: bone surfaces as the model grid draws them."]
    before, after = record["validation_dice_before"], record["validation_dice_after"]
    rules = [
        *([f"peel a bone's outer voxel darker than {edges['shell_below_hu']:g} HU"] if edges and edges["shell_below_hu"] is not None else []),
        *([f"add a background voxel next to a bone at least {edges['grow_above_hu']:g} HU bright"] if edges and edges["grow_above_hu"] is not None else []),
    ]
    setting = "; ".join(rules) or "off (no pair of thresholds beat the unrefined bones)"
    return [
        f"Chosen on the validation split of {', '.join(Path(d).parent.name for d in record['datalists'])} ({record['cases']} cases "
        f"finer than the model grid; {record['skipped']} skipped; never the test cases): {record['method']}. "
        "Only axes where the input is finer than the 2 mm grid are refined, so the 3 mm real CT is left as drawn.",
        "",
        f"- Setting: {setting}",
        "- Validation Dice at native resolution, before -> after: " + ", ".join(f"{name} {before[name]:.3f} -> {after[name]:.3f}" for name in before),
    ]


def _confidence(package) -> list[str]:
    """The card's lines on the tumour confidence level, from the package's metadata."""
    inference = package.metadata.get("inference", {})
    record, level = inference.get("tumour_confidence_calibration"), inference.get("tumour_min_probability", 0.0)
    if not record:
        return ["None: every tumour piece the network draws is kept (the largest-piece rule then chooses)."]
    kept = "none" if record["false_ml_kept"] == 0 else f"{record['false_ml_kept']:.1f} mL"
    return [
        f"Chosen on the validation split of {', '.join(Path(d).parent.name for d in record['datalists'])} "
        f"({record['cases']} cases; never the test cases): {record['method']}. A tumour piece whose tumour probability "
        "stays below the level in every voxel is dropped before the largest-piece rule, and `run` says so when that changed the result.",
        "",
        f"- Level: {level:.3f}" + (" (0: the least sure validation tumour peaked at even odds or below, so none is dropped)" if level == 0 else ""),
        f"- Validation tumours: {record['tumours']}, the least sure peaking at {record['least_sure_tumour']:.3f}",
        f"- Validation false pieces (touching no labelled tumour): {record['false_pieces']}, {record['false_pieces_dropped']} dropped "
        f"({record['false_ml_dropped']:.1f} mL); kept: {kept}" + (f", the surest peaking at {record['surest_false_piece']:.3f}" if record["surest_false_piece"] is not None else ""),
    ]


def _tumour_edges(package) -> list[str]:
    """The card's lines on the tumour-edge refinement, from the package's metadata."""
    inference = package.metadata.get("inference", {})
    record, edges = inference.get("tumour_edges_calibration"), inference.get("tumour_edges")
    if not record:
        return ["None: the tumour's edge as the network draws it."]
    setting = (
        f"on: where the tumour's sure core (probability {edges['sure_probability']:g} or more) and the soft tissue around it differ by at least "
        f"{edges['min_contrast_hu']:g} HU, unsure tumour voxels nearer the surroundings' density become background"
        if edges else "off (no contrast beat the unrefined tumour)"
    )
    by_contrast = ", ".join(f"{contrast if contrast == 'off' else f'{contrast:g} HU'} {value:.3f}" for contrast, value in record["mean_tumour_dice_by_contrast_hu"])
    return [
        f"Chosen on the validation split of {', '.join(Path(d).parent.name for d in record['datalists'])} "
        f"({record['cases']} cases with a labelled tumour; never the test cases): {record['method']}.",
        "",
        f"- Setting: {setting}",
        f"- Mean validation tumour Dice on the model grid by setting: {by_contrast}",
    ]


def _confidence_limitation(package) -> list[str]:
    """The card's caveat on a tumour confidence level (none without one)."""
    inference = package.metadata.get("inference", {})
    level, record = inference.get("tumour_min_probability", 0.0), inference.get("tumour_confidence_calibration")
    if not level or not record:
        return []
    return [
        f"- A tumour the network is less sure of than {level:.3f} everywhere is dropped (`run` says so, with the piece's size and peak). "
        f"The level was set from validation tumours found at {record['least_sure_tumour']:.3f} or surer; a real tumour that looks unlike the generated and inserted ones may be less sure, and be dropped."
    ]


def _metal_limitation(run: dict | None, package) -> list[str]:
    """The card's caveat on hip prostheses, from ``scripts/metal_effect.py``'s run (none without one)."""
    if run is None:
        return []
    tumour = {name: summary["tumor"]["dice"]["mean"] for name, summary in run["results"].items()}
    datalists = package.metadata.get("training", {}).get("config", {}).get("datalist", [])
    trained = "in its training data (gen-metal)" if any("gen-metal" in str(d) for d in datalists) else "never in its training data"
    return [
        f"- Hip prostheses: {trained}. On {len(run['case_indices'])} generated patients with one (`scripts/metal_effect.py`, seed {run['seed']}) "
        f"tumour Dice {tumour['with prostheses']:.3f} with the metal, {tumour['without']:.3f} without (Hip prostheses, above); `run` warns whenever the scan holds metal."
    ]


def _lesion_free(build: Path) -> list[str]:
    """What ``run`` gives on the lesion-free real CT (BUILD/lesion-free/result.json), or a line saying it was not run."""
    path = build / "lesion-free" / "result.json"
    if not path.is_file():
        return ["not measured"]
    result = json.loads(path.read_text())
    volumes = ", ".join(f"{name} {volume:.1f} mL" for name, volume in result["volumes_ml"].items())
    return [
        "`run` on the bundled real CT itself (no lesion inserted; TotalSegmentator's example, with a left hip prosthesis in its lowest slices):",
        "",
        f"- Volumes: {volumes}",
        *[f"- Warning: {warning}" for warning in result["warnings"]],
    ]


def _card_section(card: str, title: str) -> list[str]:
    """The lines of a model card's section ``## title`` (without its heading and trailing blank lines)."""
    lines = card.splitlines()
    start = lines.index(f"## {title}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end]).strip("\n").splitlines()


def _offset_limitation(package: ModelPackage) -> list[str]:
    """The card's caveat on a non-zero tumour decision offset (none when the calibration left it at 0)."""
    if not package.metadata.get("inference", {}).get("decision_offsets", {}).get("tumor"):
        return []
    return [
        "- The tumour's decision offset is one constant: it shrinks every case's tumour alike, so tumours the network already drew too small get smaller (see the per-case lines above). It was chosen on lesions inserted into the same real scan as the real-CT test lesions, so it may suit that scan better than others."
    ]


def _per_case(path: Path) -> dict[tuple[str, str], float]:
    with path.open() as stream:
        return {(row["case_id"], row["structure"]): float(row["dice"]) for row in csv.DictReader(stream)}


def _per_case_changes(build: Path, suffix: str) -> list[str]:
    """Per structure, how many test cases this package scores better and worse than another model (its
    evaluations in BUILD/eval-*-``suffix``), and the largest drop: a mean can hide cases that got much worse."""
    lines = []
    for name in ("eval-generated", "eval-real"):
        now, before = build / name / "metrics.csv", build / f"{name}-{suffix}" / "metrics.csv"
        if not (now.is_file() and before.is_file()):
            continue
        new, old = _per_case(now), _per_case(before)
        for structure in sorted({key[1] for key in new}):
            keys = [key for key in new if key[1] == structure and key in old]
            changes = [new[key] - old[key] for key in keys]
            worst = min(keys, key=lambda key: new[key] - old[key])
            drop = f"largest drop {old[worst]:.3f} -> {new[worst]:.3f} ({worst[0]})" if new[worst] < old[worst] else "no case worse"
            lines.append(
                f"- {name}, {structure}: better in {sum(c > 0 for c in changes)}, worse in {sum(c < 0 for c in changes)} of {len(keys)} cases; "
                f"{drop}; cases at Dice 0: {sum(old[k] == 0 for k in keys)} -> {sum(new[k] == 0 for k in keys)}"
            )
    return lines


def _compared(build: Path, suffix: str) -> list[str]:
    """Tables of BUILD/eval-generated-``suffix`` and eval-real-``suffix`` (another model evaluated like this
    one: ``previous``, the trained model before calibration; ``bundled``, the bundled model this one
    replaces), or a line saying there are none."""
    lines = []
    for name, title in ((f"eval-generated-{suffix}", "Held-out generated test cases"), (f"eval-real-{suffix}", "Held-out lesions inserted into the real CT")):
        path = build / name / "metrics.json"
        if path.is_file():
            evaluation = json.loads(path.read_text())
            lines += [f"{title}, {evaluation['model']['name']} {evaluation['model']['version']}:", "", *metrics_table(evaluation["summary"], COLUMNS), ""]
    changes = _per_case_changes(build, suffix)
    if changes:
        lines += ["Per case, this package against that one:", "", *changes]
    return lines or ["not measured"]


# The build's cohorts (scripts/build_ct_model.sh), as the card names them.
COHORTS = {
    "gen-ct": "generated, at the generator's default scan settings (0.6-1.0 mm pixels, 1-5 mm slices)",
    "gen-coarse": "generated, at coarse scan settings (1.5-3.2 mm pixels, 2-5 mm slices)",
    "gen-default": "generated, at the default scan settings, never used in training or calibration (all cases scored)",
    "gen-metal": "generated with hip prostheses (`cohort --prostheses-only`), at the default scan settings",
}
# Evaluation folder -> (cohort folder, split scored).
RESULTS = {
    "eval-generated": ("gen-ct", "test"),
    "eval-generated-coarse": ("gen-coarse", "test"),
    "eval-generated-default": ("gen-default", "all"),
    "eval-generated-metal": ("gen-metal", "test"),
}


def _cohort(build: Path, folder: str) -> str:
    """'seed S, N cases, generator V' from a cohort's dataset.json, and its hip prostheses where it records them
    (generator 1.7 on)."""
    dataset = json.loads((build / folder / "dataset.json").read_text())
    prostheses = dataset.get("hip_prostheses")
    metal = f", {prostheses['cases']} with hip prostheses" if prostheses and prostheses["enabled"] else ""
    return f"`cohort --seed {dataset['seed']}`, {dataset['cases']} cases{metal}, generator {dataset['generator_version']}"


def _table(evaluations: dict, name: str) -> list[str]:
    """The metrics table of evaluation ``name``, or a line saying it was not measured."""
    return metrics_table(evaluations[name]["summary"], COLUMNS) if name in evaluations else ["not measured"]


def _results(build: Path, name: str, evaluations: dict) -> tuple[str, list[str]]:
    folder, split = RESULTS[name]
    return f"Results: {COHORTS[folder]}; {_cohort(build, folder)}, {split} split (full pipeline, native resolution)", _table(evaluations, name)


def _tumour_target(evaluations: dict) -> list[str]:
    """The card's caveat when the held-out generated tumours score below the issue's target (none when met)."""
    tumour = evaluations.get("eval-generated", {}).get("summary", {}).get("tumor", {}).get("dice", {}).get("mean")
    if tumour is None or tumour >= TUMOUR_TARGET:
        return []
    return [f"- The generated tumour target (Dice >= {TUMOUR_TARGET} on held-out generated cases) is not met: {tumour:.3f}{_tumour_errors(evaluations)}."]


def _tumour_errors(evaluations: dict) -> str:
    """Which way the held-out generated tumours are wrong, from the evaluation's volumes (evaluations made
    before evaluate-seg recorded volumes have none: then nothing is said)."""
    tumour = evaluations["eval-generated"]["summary"]["tumor"]
    volumes = tumour.get("volumes_ml")
    if volumes is None:
        return ""
    return (
        f"; {volumes['drawn_larger']} of {tumour['cases']} tumours are drawn larger than labelled, and in all "
        f"{volumes['false_ml']:.0f} mL outside the labels is drawn against {volumes['missed_ml']:.0f} mL of them left out "
        f"({volumes['predicted_ml']:.0f} mL drawn, {volumes['reference_ml']:.0f} mL labelled)"
    )


def _initial_model(config: dict) -> str:
    """The package fine-tuned, as 'name version' where its metadata is still there, else its folder's name."""
    folder = Path(str(config.get("init_model") or "?"))
    metadata = folder / METADATA_FILE
    if metadata.is_file():
        found = json.loads(metadata.read_text())
        return f"{found['name']} {found['version']}"
    return folder.name


def _metal_run(build: Path) -> dict | None:
    """``scripts/metal_effect.py``'s summary in BUILD/metal-effect (the same generated patients with and without
    hip prostheses), or None where it was not run."""
    path = build / "metal-effect" / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _metal(run: dict | None) -> list[str]:
    """Tables of ``scripts/metal_effect.py``'s run, or a line saying it was not run."""
    if run is None:
        return ["not measured"]
    lines = [f"`scripts/metal_effect.py`: the first {len(run['case_indices'])} cases of seed {run['seed']} that have a hip prosthesis (default scan settings), rendered with it and without it (same patient, scan and noise; with it, the reamed acetabulum is not hip bone in the reference).", ""]
    for name, summary in run["results"].items():
        lines += [f"{name.capitalize()}:", "", *metrics_table(summary, COLUMNS), ""]
    return lines


def _training_run(build: Path) -> Path:
    """The build's last training stage that ran: stage 4 (continued from a package), else stage 3 (the
    prosthesis cases), else stage 2."""
    return next(folder for folder in (build / "ct-seg-continue", build / "ct-seg-metal", build / "ct-seg-ft") if (folder / "training_log.csv").is_file())


def _schedule(config: dict) -> str:
    warmup = "warm-up, then cosine decay" if config.get("warmup_epochs") else "cosine decay, no warm-up"
    precision = ", forward passes in bfloat16" if config.get("precision") == "bfloat16" else ""
    dice = "" if config.get("dice_weight", 1.0) == 1.0 else f", soft Dice weighted {config['dice_weight']:g} beside cross-entropy"
    return f"{warmup}{precision}{dice}"


def _trained(build: Path, package: ModelPackage) -> tuple[list[str], list[str]]:
    """The card's "How it was made" lines and training log: from the build's training run, or, for a
    recalibration, from the card of the package it started from."""
    origin = build / "recalibrated-from"
    if (origin / METADATA_FILE).is_file():
        card = (origin / "MODEL_CARD.md").read_text(encoding="utf-8")
        before = json.loads((origin / METADATA_FILE).read_text())
        made = [
            f"This release is {before['name']} {before['version']}'s package recalibrated by `scripts/build_ct_model.sh` with `CT_RECALIBRATE` "
            "(its weights and their checksum unchanged; its sliding window, decision calibration, bone edges and tumour confidence below set and chosen again). How those weights were made, from its card:",
            "",
            *_card_section(card, "How it was made"),
        ]
        return made, _card_section(card, "Training log (validation Dice on the model grid)")
    # The last training stage the build ran.
    run = _training_run(build)
    history = (run / "training_log.csv").read_text().strip().splitlines()
    config = package.metadata["training"]["config"]
    made = [
            "Trained by `scripts/build_ct_model.sh` (the project's own `cohort`, `train-seg`, `calibrate-seg`, `calibrate-edges`, `calibrate-confidence`, `calibrate-tumour-edges` and `evaluate-seg` commands) on a 2-core CPU. "
            "Its weights descend from earlier releases: 8 epochs on generated cases (v0.1.0), then fine-tuning on generated cases plus lesions inserted into the one bundled real CT, the real cases' tumour-only labels trained with the marginal loss so that the unlabelled real bones are never called background (v0.2.0 on generator 1.0 data, v0.3.0 on 1.2, v0.4.0 on 1.3, 15 epochs; v0.4.2, bundled until v0.11.1, is v0.4.0 calibrated; v0.11.1 is v0.4.0 fine-tuned 15 epochs on generator 1.6 data and calibrated; v0.11.3 is v0.11.1 with test-time mirroring, calibrated again). "
            f"This release fine-tunes {_initial_model(config)}'s weights again, for {config['epochs']} epochs at a peak learning rate of {config['learning_rate']:g} ({_schedule(config)}), on: {package.metadata['training']['data']}",
            "Candidates trained between v0.4.2 and this release, and why they were not shipped, are in docs/ct-segmentation.md (\"What was tried\").",
            "The test sets below were never seen in training or calibration: held-out generated cases, and held-out inserted lesions (different lesions, same real scan).",
            f"Fine-tuning epochs run: {len(history) - 1} of the {config['epochs']} configured; the package holds the best validation epoch ({package.metadata['metrics']['validation_model_grid']['epoch']}). A stopped run continues with the same command (`--resume`).",
    ]
    return made, ["```", *history, "```"]


def main(build: Path) -> None:
    names = (*RESULTS, "eval-real", "eval-classical")
    evaluations = {name: json.loads((build / name / "metrics.json").read_text()) for name in names if (build / name / "metrics.json").exists()}
    target = bundled_model_path("ct-seg")
    test = {name: {"summary": e["summary"], "cases": e["cases"], "seconds_per_case": e["seconds_per_case"], "provider": e["provider"]} for name, e in evaluations.items()}
    calibrated = ("ct-seg-tumour-edges", "ct-seg-conf", "ct-seg-edges", "ct-seg-cal")
    source = next((build / name for name in calibrated if (build / name / METADATA_FILE).is_file()), None)
    if source is None:
        source = _training_run(build) / "model"
    package = install_package(source, target, {"test": test})
    made, history = _trained(build, package)
    recalibration = (build / "recalibrated-from" / METADATA_FILE).is_file()
    metal = _metal_run(build)
    sections = {
        "How it was made": made,
        "Decision calibration": _calibration(package),
        "Bone-edge refinement": _bone_edges(package),
        "Tumour confidence": _confidence(package),
        "Tumour-edge refinement": _tumour_edges(package),
        **dict(_results(build, name, evaluations) for name in RESULTS),
        f"Results: held-out lesions inserted into the bundled real CT ({_cohort(build, 'real-ct')}, test split; tumour only; one real anatomy)": _table(evaluations, "eval-real"),
        "Baseline: classical hip-bone provider on the default-settings test cases (where it finds no pelvis the case is refused and scores 0, tumour included)": _table(evaluations, "eval-classical"),
        ("The package it was recalibrated from, on the same test cases" if recalibration else "The model it was made from (before calibration), on the same test cases"): _compared(build, "previous"),
        "The bundled model it replaces, on the same test cases": ["The package it was recalibrated from (above)."] if recalibration else _compared(build, "bundled"),
        "Hip prostheses": _metal(metal),
        "A real CT without a tumour": _lesion_free(build),
        "Training log (validation Dice on the model grid)": history,
        "Limitations": [
            "- No real tumours: the tumours, and all but one anatomy, are generated. Performance on patients is unknown.",
            *_tumour_target(evaluations),
            "- Only one real scan exists here (TotalSegmentator example). Training and the real-CT test both insert lesions into it (different lesions), so the real-CT figure measures finding new lesions in a known real anatomy, not generalisation to other patients, which is unmeasured and likely worse.",
            "- Hip-bone labels of the real scan do not exist, so bone accuracy is measured on generated cases only.",
            "- v0.1.0, trained on generated anatomy alone, found lesions in the real CT with Dice 0.004 (it called liver and bowel tumour); the real-insertion fine-tuning is what changed that. The pipeline drops tumour drawn far from the pelvis and says so.",
            *_offset_limitation(package),
            *_confidence_limitation(package),
            *_metal_limitation(metal, package),
            "- Bone offsets are left at 0 on purpose. Offsets fitted to the generated bones once (v0.3) raised generated hip Dice, but in the real CT, whose bones are unlabelled, they erased real bone: the demo case's left hip bone fell from 214 to 94 mL, the lost voxels at bone density (median 236 HU).",
            "- The bone-edge refinement's thresholds were chosen on generated bones; the peel threshold is capped at 300 HU, about the half-maximum edge of real cortex at 1 mm (the example DICOM's spine). Its effect on real CT finer than the model grid is unmeasured (no labelled real bone exists here); the bundled real CT, at 3 mm, is never refined.",
            "- Not for diagnosis or treatment decisions.",
        ],
    }
    card = write_model_card(package, sections)
    print(f"installed {package.name} {package.version} into {target}; card {card}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
