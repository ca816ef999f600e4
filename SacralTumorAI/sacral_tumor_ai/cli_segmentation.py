"""Command-line commands of the CT segmentation model: ``train-seg`` and ``evaluate-seg``."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path


def training_config(config_class, args: argparse.Namespace, command: str, overrides: tuple[str, ...]):
    """A training configuration from ``--config`` JSON, the data list and output folder, and the command
    line's overrides; unknown keys are refused with the known ones listed."""
    settings = json.loads(Path(args.config).read_text()) if args.config else {}
    settings.update({"datalist": args.datalist[0] if len(args.datalist) == 1 else args.datalist, "out": args.out})
    for name in overrides:
        if getattr(args, name, None) is not None:
            settings[name] = getattr(args, name)
    known = {f.name for f in fields(config_class)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise SystemExit(f"{command}: unknown configuration keys {unknown}; known: {sorted(known)}")
    return config_class(**settings)


def _train(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.training.seg_train import SegTrainingConfig, train_segmentation

    config = training_config(SegTrainingConfig, args, "train-seg", ("epochs", "device", "init_filters", "seed", "batch_size", "init_model"))
    package = train_segmentation(config, resume=args.resume)
    print(f"model package: {package}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.evaluation.evaluate_seg import evaluate_segmentation_model

    structures = tuple(args.structures.split(",")) if args.structures else None
    summary = evaluate_segmentation_model(args.model, args.datalist, args.split, args.out, args.provider, args.device, args.limit, structures)
    print(json.dumps(summary["summary"], indent=2))
    print(f"per-case metrics: {Path(args.out) / 'metrics.csv'}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.evaluation.calibrate_seg import calibrate_segmentation_model

    progress = _percent_progress()
    labels = tuple(args.labels.split(",")) if args.labels else None
    window = tuple(args.window) if args.window else None
    result = calibrate_segmentation_model(
        args.model, args.datalist, args.split, args.out, args.mirror, args.limit, args.version, args.device, progress, labels, window, args.overlap,
    )
    return _report_calibration(result)


def _calibrate_edges(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.evaluation.calibrate_edges import calibrate_bone_edges

    progress = _percent_progress()
    result = calibrate_bone_edges(args.model, args.datalist, args.split, args.out, args.limit, args.version, args.device, progress)
    return _report_calibration(result)


def _calibrate_confidence(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.evaluation.calibrate_confidence import calibrate_tumour_confidence

    progress = _percent_progress()
    result = calibrate_tumour_confidence(args.model, args.datalist, args.split, args.out, args.limit, args.version, args.device, progress)
    return _report_calibration(result)


def _calibrate_tumour_edges(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.evaluation.calibrate_tumour_edges import calibrate_tumour_edges

    progress = _percent_progress()
    result = calibrate_tumour_edges(args.model, args.datalist, args.split, args.out, args.limit, args.version, args.device, progress)
    return _report_calibration(result)


def _percent_progress():
    from sacral_tumor_ai.progress import Progress

    return Progress(report=lambda fraction, message: print(f"[{fraction:4.0%}] {message}", flush=True))


def _report_calibration(result: dict) -> int:
    print(json.dumps(result, indent=2))
    print(f"calibrated package: {result['package']} (measure it on the test split with evaluate-seg)")
    return 0


def _calibration_arguments(parser: argparse.ArgumentParser, datalist_help: str) -> None:
    """The arguments every calibration command takes."""
    parser.add_argument("--model", required=True, help="model package folder")
    parser.add_argument("--datalist", required=True, nargs="+", help=datalist_help)
    parser.add_argument("--split", default="validation")
    parser.add_argument("--out", required=True, help="folder for the calibrated package (replaced if it exists; never the model's own)")
    parser.add_argument("--limit", type=int, help="only the first N cases of each data list")
    parser.add_argument("--version", help="version of the calibrated package (default: the model's)")
    parser.add_argument("--device", default="cpu")


def _run(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.demo import demo_case_path
    from sacral_tumor_ai.hipframe.table import location_line
    from sacral_tumor_ai.progress import Progress
    from sacral_tumor_ai.run import run_case

    mri = mri_inputs(args)
    source = args.input or demo_case_path()
    progress = Progress(report=_progress_printer(args))
    clinical = {"age": args.age, "sex": args.sex}
    result = run_case(source, args.out, args.model, args.provider, args.device, args.series, progress, clinical, args.classifier, mri, args.fusion_model, args.mri_model, args.registration)
    print(f"input        {result['input']['path']}")
    print("volumes (mL) " + ", ".join(f"{name} {volume:.1f}" for name, volume in result["volumes_ml"].items()))
    print(f"location     {location_line(result['location'])}")
    print(f"class        {describe_classification_line(result['classification'])}")
    print(f"time         {result['timings_s']['end_to_end']:.1f} s")
    for warning in result["warnings"]:
        print(f"warning      {warning}")
    print(f"outputs      {Path(args.out).resolve()} ({', '.join(result['files'].values())})")
    return 0


def _progress_printer(args: argparse.Namespace):
    """Progress lines for people (``--verbose``) or, one JSON object a line, for a front end that runs this
    command in a background process (``--progress-json``: ``{"progress": 0.35, "message": "..."}``)."""
    if args.progress_json:
        return lambda fraction, message: print(json.dumps({"progress": round(fraction, 4), "message": message}), flush=True)
    if args.verbose:
        return lambda fraction, message: print(f"[{fraction:4.0%}] {message}", flush=True)
    return None


def mri_inputs(args: argparse.Namespace) -> dict[str, str] | None:
    """Sequence -> file from ``--modality`` (for the positional input) and ``--t1/--t2/--dwi/--cet1``;
    None for a CT run."""
    from sacral_tumor_ai.errors import SacralTumorAIError

    files = {sequence: getattr(args, sequence) for sequence in ("t1", "t2", "dwi", "cet1") if getattr(args, sequence)}
    if args.modality != "ct":
        if not args.input:
            raise SacralTumorAIError(f"--modality {args.modality} needs an input file or folder")
        if args.modality in files:
            raise SacralTumorAIError(f"--modality {args.modality} and --{args.modality} both name the {args.modality} image; give it once")
        files[args.modality] = args.input
    elif files and args.input:
        raise SacralTumorAIError("an input without --modality is a CT; with --t1/--t2/--dwi/--cet1 give --modality for it too")
    return files or None


def describe_classification_line(classification: dict) -> str:
    """The three most probable classes, or why there is no classification."""
    if not classification["available"]:
        return f"not available: {classification['reason']}"
    top = classification["ranking"][:3]
    return ", ".join(f"{name} {classification['probabilities'][name]:.0%}" for name in top) + " (research use only)"


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """``--modality`` (what the positional input is) and ``--t1/--t2/--dwi/--cet1``, read by :func:`mri_inputs`;
    shared by ``run`` and ``web``."""
    parser.add_argument("--modality", default="ct", choices=("ct", "t1", "t2", "dwi", "cet1"), help="what the input is (default: %(default)s)")
    for sequence, name in (("t1", "T1-w"), ("t2", "T2-w"), ("dwi", "DWI (b = 1000; a 4D file: b = 1000 or the highest is used)"), ("cet1", "contrast-enhanced T1-w")):
        parser.add_argument(f"--{sequence}", help=f"{name} file or DICOM folder of an MRI study")


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="segment a CT or an MRI study: .seg.nrrd, NIfTI labelmap, result.json and a preview PNG")
    run.add_argument("input", nargs="?", help="CT (or, with --modality, MRI) file or DICOM folder (default: the bundled demo CT case)")
    add_input_arguments(run)
    run.add_argument("--out", default="sacral-tumor-ai-output", help="output folder (default: %(default)s)")
    run.add_argument("--model", help="segmentation model package folder (default: the bundled CT model, or for MRI the All-sequence model)")
    run.add_argument("--fusion-model", dest="fusion_model", help="MRI T2-fusion package (default: the bundled one)")
    run.add_argument("--mri-model", dest="mri_model", default="auto", choices=("auto", "all-sequence", "t2-fusion"), help="auto: T2-fusion when T2-w and CET1-w are both given")
    run.add_argument("--registration", default="affine", choices=("rigid", "affine", "deformable"), help="MRI: how other sequences are aligned to the reference (default: %(default)s)")
    run.add_argument("--provider", default="model", help="hip-bone provider: model, classical, totalsegmentator")
    run.add_argument("--device", default="cpu", help="cpu or cuda")
    run.add_argument("--series", help="series UID or description, when a DICOM folder holds several")
    run.add_argument("--verbose", action="store_true", help="print progress")
    run.add_argument("--progress-json", dest="progress_json", action="store_true", help="print progress as JSON lines (for front ends running this in the background)")
    run.add_argument("--age", type=float, help="patient's age in years (classification; may be left out)")
    run.add_argument("--sex", help="patient's sex: F or M (classification; may be left out)")
    run.add_argument("--classifier", help="classifier package folder (default: the bundled classifier)")
    run.set_defaults(handler=_run)

    train = commands.add_parser(
        "train-seg",
        help="train the CT segmentation model on a MONAI-style data list (resumable; works under torchrun)",
    )
    train.add_argument("--datalist", required=True, nargs="+", help="datalist.json file(s) with training and validation splits")
    train.add_argument("--out", required=True, help="run folder: cache, checkpoint.pt, training_log.csv, model/")
    train.add_argument("--config", help="JSON file of SegTrainingConfig settings")
    train.add_argument("--epochs", type=int)
    train.add_argument("--init-filters", dest="init_filters", type=int)
    train.add_argument("--batch-size", dest="batch_size", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="cpu or cuda")
    train.add_argument("--init-model", dest="init_model", help="start from this model package's weights (fine-tuning)")
    train.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint.pt")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "evaluate-seg", help="Dice, IoU and HD95 per structure of a segmentation model on a data-list split"
    )
    evaluate.add_argument("--model", required=True, help="model package folder")
    evaluate.add_argument("--datalist", required=True)
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--out", required=True, help="folder for metrics.csv and metrics.json")
    evaluate.add_argument("--provider", default="model", help="hip-bone provider: model, classical, totalsegmentator")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N cases")
    evaluate.add_argument("--structures", help="comma-separated labels to score (default: all), e.g. tumor")
    evaluate.set_defaults(handler=_evaluate)

    calibrate = commands.add_parser(
        "calibrate-seg",
        help="choose a CT model's per-label decision offsets (and test-time mirroring) on validation cases; writes a new package",
    )
    _calibration_arguments(calibrate, "data list(s); tumour-only items score the tumour only")
    calibrate.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None, help="test-time left-right mirroring (default: as the package has it)")
    calibrate.add_argument("--labels", help="comma-separated labels whose offsets are searched (default: all; the others keep 0), e.g. tumor")
    calibrate.add_argument(
        "--window", type=int, nargs=3, metavar=("X", "Y", "Z"),
        help="sliding-window size in voxels (default: as the package has it); for an instance-normalised network, its training patch size",
    )
    calibrate.add_argument("--overlap", type=float, help="sliding-window overlap, 0 to below 1 (default: as the package has it)")
    calibrate.set_defaults(handler=_calibrate)

    edges = commands.add_parser(
        "calibrate-edges",
        help="choose the HU thresholds that refine a CT model's bone edges at the input's resolution, on validation cases; writes a new package",
    )
    _calibration_arguments(edges, "data list(s); cases with bone labels and an input finer than the model grid are used")
    edges.set_defaults(handler=_calibrate_edges)

    confidence = commands.add_parser(
        "calibrate-confidence",
        help="choose the tumour probability a CT model's tumour piece must reach to be kept, on validation cases; writes a new package",
    )
    _calibration_arguments(confidence, "data list(s) with labelled tumours")
    confidence.set_defaults(handler=_calibrate_confidence)

    tumour_edges = commands.add_parser(
        "calibrate-tumour-edges",
        help="choose whether (and from what density contrast) a CT model peels the rim of tissue drawn around a tumour, on validation cases; writes a new package",
    )
    _calibration_arguments(tumour_edges, "data list(s) with labelled tumours")
    tumour_edges.set_defaults(handler=_calibrate_tumour_edges)
