#!/usr/bin/env bash
# Rebuild the bundled CT segmentation model from scratch with the project's own commands: generate the
# cohort, train (resumable: run again after an interruption), evaluate, write the model card, install it.
# About two hours on a 2-core CPU. BUILD (default build/) holds the data and the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CLI=.venv/bin/sacral-tumor-ai
[ -f "$BUILD/gen-ct/datalist.json" ] || $CLI cohort --cases 170 --seed 11 --out "$BUILD/gen-ct" --in-plane-mm 1.0 1.4 --slice-mm 1.5 5 --no-montage
[ -f "$BUILD/real-ct/datalist.json" ] || $CLI cohort --cases 80 --seed 12 --out "$BUILD/real-ct" --source real --no-montage
# Stage 1: generated cases only. Stage 2: fine-tuning on generated cases plus lesions inserted into the real
# CT (tumour-only labels, marginal loss).
$CLI train-seg --datalist "$BUILD/gen-ct/datalist.json" --out "$BUILD/ct-seg-run" --config scripts/ct_model_config.json --resume
$CLI train-seg --datalist "$BUILD/gen-ct/datalist.json" "$BUILD/real-ct/datalist.json" --out "$BUILD/ct-seg-ft" \
  --config scripts/ct_finetune_config.json --init-model "$BUILD/ct-seg-run/model" --resume
$CLI evaluate-seg --model "$BUILD/ct-seg-ft/model" --datalist "$BUILD/gen-ct/datalist.json" --split test --out "$BUILD/eval-generated"
$CLI evaluate-seg --model "$BUILD/ct-seg-ft/model" --datalist "$BUILD/real-ct/datalist.json" --split test --structures tumor --out "$BUILD/eval-real"
$CLI evaluate-seg --model "$BUILD/ct-seg-ft/model" --datalist "$BUILD/gen-ct/datalist.json" --split test --provider classical --out "$BUILD/eval-classical"
.venv/bin/python scripts/install_ct_model.py "$BUILD"
