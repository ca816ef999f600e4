"""Command-line commands of the tumour classifier: ``train-cls``, ``evaluate-cls`` and ``compare-cls``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sacral_tumor_ai.cli_segmentation import training_config


def _train(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.classify.train import ClsTrainingConfig, train_classifier

    config = training_config(ClsTrainingConfig, args, "train-cls", ("epochs", "device", "seed", "batch_size", "inputs", "cache"))
    if isinstance(config.datalist, list):
        raise SystemExit("train-cls: give one data list")
    print(f"model package: {train_classifier(config, resume=args.resume)}")
    return 0


def _summary(report: dict) -> str:
    low, high = report["macro_auc_ci95"]
    lines = [f"macro AUC {report['macro_auc']:.3f} (95% CI {low:.3f}-{high:.3f}), macro F1 {report['macro_f1']:.3f}, accuracy {report['accuracy']:.3f}, {report['cases']} cases"]
    for name, row in report["per_class"].items():
        auc = "n/a" if row["auc"] is None else f"{row['auc']:.3f}"
        lines.append(f"  {name:18s} AUC {auc}  precision {row['precision'] or 0:.2f}  sensitivity {row['sensitivity'] or 0:.2f}  specificity {row['specificity'] or 0:.2f}  ({row['cases']} cases)")
    return "\n".join(lines)


def _evaluate(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.classify.evaluate import evaluate_classifier

    report = evaluate_classifier(args.model, args.datalist, args.split, args.out, args.device, args.bootstrap, args.seed, args.cache)
    print(_summary(report))
    print(f"outputs: {Path(args.out) / 'metrics.json'}, predictions.csv, confusion.png, roc.png")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.classify.evaluate import compare_predictions
    from sacral_tumor_ai.models.package import read_metadata

    classes = args.classes.split(",") if args.classes else read_metadata(args.model)["classes"]
    summary = compare_predictions(args.a, args.b, classes, args.out, args.bootstrap, args.seed)
    print(json.dumps({k: summary[k] for k in ("cases", "macro_auc_a", "macro_auc_b", "macro_auc_difference", "macro_auc_difference_ci95")}, indent=2))
    for name, row in summary["per_class_delong"].items():
        print(f"  {name:18s} AUC {row['auc_a']:.3f} vs {row['auc_b']:.3f}  DeLong z {row['z']:+.2f}  p {row['p_value']:.4f}")
    return 0


def _classify(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.io import read_image, write_json
    from sacral_tumor_ai.run import assess_tumour, load_classifier

    image, labelmap = read_image(args.image), read_image(args.labelmap)
    classifier = load_classifier(args.classifier, args.device, args.modality)
    assessed = assess_tumour(image, labelmap, {"age": args.age, "sex": args.sex}, classifier, args.modality)
    write_json(assessed, args.out)
    print(json.dumps({"progress": 1.0, "message": "classified"}) if args.progress_json else f"written {args.out}", flush=True)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    classify = commands.add_parser("classify", help="location and tumour-type probabilities of an existing segmentation (e.g. one corrected by hand): JSON")
    classify.add_argument("image", help="the CT or MR volume")
    classify.add_argument("labelmap", help="labelmap on the image's grid with the project's label values (tumor = 1)")
    classify.add_argument("--out", required=True, help="JSON file to write (location, classification, volumes)")
    classify.add_argument("--modality", choices=("CT", "MR"), default="CT")
    classify.add_argument("--age", type=float)
    classify.add_argument("--sex")
    classify.add_argument("--classifier", help="classifier package folder (default: the bundled one for the modality)")
    classify.add_argument("--device", default="cpu")
    classify.add_argument("--progress-json", dest="progress_json", action="store_true", help="print progress as JSON lines")
    classify.set_defaults(handler=_classify)

    train = commands.add_parser("train-cls", help="train the tumour classifier on a data list (resumable; works under torchrun)")
    train.add_argument("--datalist", required=True, nargs=1, help="datalist.json with class, age and sex per item")
    train.add_argument("--out", required=True, help="run folder: cache, checkpoint.pt, training_log.csv, model/")
    train.add_argument("--config", help="JSON file of ClsTrainingConfig settings")
    train.add_argument("--inputs", choices=("image", "image+clinical", "image+clinical+location", "clinical+location"), help="inputs used (the ablation's variants)")
    train.add_argument("--cache", help="folder of prepared cases, shareable between runs (default: RUN/cache)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", dest="batch_size", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="cpu or cuda")
    train.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint.pt")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate-cls", help="seed 1's statistics for a classifier on a data-list split (AUC with CIs, F1, confusion matrix, ROC)")
    evaluate.add_argument("--model", required=True, help="classifier package folder")
    evaluate.add_argument("--datalist", required=True)
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--out", required=True)
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--cache", help="folder of prepared cases (default: OUT/cache)")
    evaluate.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples for the 95%% CIs")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.set_defaults(handler=_evaluate)

    compare = commands.add_parser("compare-cls", help="compare two prediction CSVs on the same cases (DeLong per class, bootstrap macro AUC)")
    compare.add_argument("a", help="predictions.csv with true_class (for example the model's, from evaluate-cls)")
    compare.add_argument("b", help="predictions to compare: a column per class, or a 'predicted' column (a reader's calls)")
    compare.add_argument("--model", help="classifier package whose class list to use")
    compare.add_argument("--classes", help="comma-separated class list (instead of --model)")
    compare.add_argument("--out", required=True)
    compare.add_argument("--bootstrap", type=int, default=2000)
    compare.add_argument("--seed", type=int, default=0)
    compare.set_defaults(handler=_compare)
