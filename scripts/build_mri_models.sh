#!/usr/bin/env bash
# Rebuild the bundled MRI models from scratch with the project's own commands: generate the MRI cohort,
# train the 2.5D All-sequence model, the 2D baseline and the T2-fusion model (resumable: run again after an
# interruption), evaluate them (seed 2's tables), write the model cards, install them.
# About two and a half hours on a 2-core CPU. BUILD (default build/) holds the data and the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CLI=.venv/bin/sacral-tumor-ai
DATA="$BUILD/mri-cohort/datalist.json"
[ -f "$DATA" ] || $CLI cohort --modality mri --cases 120 --seed 31 --out "$BUILD/mri-cohort" --no-montage
# All-sequence: 8 epochs, kept as a snapshot (the 2D baseline gets the same 8 epochs, and T2-fusion starts
# from it), then on to the configured 14.
$CLI train-mri --datalist "$DATA" --out "$BUILD/mri-allseq" --config scripts/mri_allseq_config.json --epochs 8 --resume
[ -d "$BUILD/mri-allseq-e8" ] || cp -r "$BUILD/mri-allseq/model" "$BUILD/mri-allseq-e8"
$CLI train-mri --datalist "$DATA" --out "$BUILD/mri-allseq" --config scripts/mri_allseq_config.json --resume
$CLI train-mri --datalist "$DATA" --out "$BUILD/mri-2d" --config scripts/mri_2d_baseline_config.json --resume
$CLI train-mri --datalist "$DATA" --out "$BUILD/mri-t2fusion" --config scripts/mri_t2fusion_config.json --init-model "$BUILD/mri-allseq-e8" --resume
# Every sequence alone and T2-fusion on the whole test split; the 15 sequence combinations (6 ANTs
# registrations per study) on its first 6 studies, to keep the build within a 2-core afternoon.
$CLI evaluate-mri --model "$BUILD/mri-allseq/model" --fusion-model "$BUILD/mri-t2fusion/model" --largest-combination 1 --datalist "$DATA" --split test --out "$BUILD/eval-mri"
$CLI evaluate-mri --model "$BUILD/mri-allseq/model" --limit 6 --datalist "$DATA" --split test --out "$BUILD/eval-mri-combinations"
# 2.5D against 2D at the same training budget (8 epochs each), every sequence alone.
$CLI evaluate-mri --model "$BUILD/mri-allseq-e8" --baseline-2d "$BUILD/mri-2d/model" --largest-combination 1 --datalist "$DATA" --split test --out "$BUILD/eval-mri-2d"
.venv/bin/python scripts/install_mri_models.py "$BUILD"
