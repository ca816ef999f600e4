"""Command-line commands of the MRI models: ``train-mri`` and ``evaluate-mri``."""

from __future__ import annotations

import argparse
from pathlib import Path

from sacral_tumor_ai.cli_segmentation import training_config


def _train(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.training.mri_train import MriTrainingConfig, train_mri

    config = training_config(MriTrainingConfig, args, "train-mri", ("model", "epochs", "context", "device", "seed", "encoder_weights", "items_per_epoch", "init_model", "decay_from_epoch"))
    print(f"model package: {train_mri(config, resume=args.resume)}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.evaluation.evaluate_mri import evaluate_mri_models

    evaluate_mri_models(args.model, args.datalist, args.split, args.out, args.fusion_model, args.baseline_2d, args.largest_combination, args.device, args.limit, tuple(args.sequences), args.hd95)
    print((Path(args.out) / "table.md").read_text(encoding="utf-8"))
    print(f"per-case metrics: {Path(args.out) / 'metrics.csv'}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train-mri", help="train the 2.5D MRI model (All-sequence or T2-fusion) on an MRI data list (resumable)")
    train.add_argument("--datalist", required=True, nargs=1, help="datalist.json of an MRI cohort (cohort --modality mri)")
    train.add_argument("--out", required=True, help="run folder: cache, checkpoint.pt, training_log.csv, model/")
    train.add_argument("--config", help="JSON file of MriTrainingConfig settings")
    train.add_argument("--model", choices=("all-sequence", "t2-fusion"))
    train.add_argument("--context", type=int, help="neighbouring slices each side: 1 = 2.5D (default), 0 = 2D baseline")
    train.add_argument("--epochs", type=int)
    train.add_argument("--items-per-epoch", dest="items_per_epoch", type=int)
    train.add_argument("--decay-from-epoch", dest="decay_from_epoch", type=int, help="keep the learning rate until this epoch, then decay it (cosine) to the last epoch")
    train.add_argument("--encoder-weights", dest="encoder_weights", help="local ImageNet MobileNetV2 weights (torchvision state dict); default: from scratch")
    train.add_argument("--init-model", dest="init_model", help="start from this MRI package's weights (T2-fusion from All-sequence: the CET1-w filters start at zero)")
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="cpu or cuda")
    train.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint.pt")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate-mri", help="Dice and IoU per sequence and sequence combination, T2-fusion and a 2D baseline (seed 2's tables)")
    evaluate.add_argument("--model", required=True, help="All-sequence model package")
    evaluate.add_argument("--fusion-model", dest="fusion_model", help="T2-fusion model package")
    evaluate.add_argument("--baseline-2d", dest="baseline_2d", help="2D (single-slice) All-sequence package, for the 2.5D gain")
    evaluate.add_argument("--datalist", required=True)
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--out", required=True, help="folder for metrics.csv, metrics.json and table.md")
    evaluate.add_argument("--largest-combination", dest="largest_combination", type=int, default=4, help="evaluate combinations up to this many sequences (1: singles only)")
    evaluate.add_argument("--sequences", nargs="+", default=["t1", "t2", "dwi", "cet1"], choices=("t1", "t2", "dwi", "cet1"), help="the sequences the cohort has (default: all four)")
    evaluate.add_argument("--hd95", action="store_true", help="also the 95th-percentile Hausdorff distance (slower)")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N cases")
    evaluate.set_defaults(handler=_evaluate)
