#!/usr/bin/env bash
# Rebuild the bundled MRI models with the project's own commands: generate the MRI cohort, train the 2.5D
# All-sequence model, the 2D baseline and the T2-fusion model (resumable: run again after an interruption),
# evaluate them (seed 2's tables), write the model cards, install them.
# Two training jobs run side by side, one thread each (faster than one job on both cores for these small
# batches). About five hours on a 2-core CPU (All-sequence: 65 epochs of about 200 s; the learning rate
# decays from epoch 26 to 45, then once more, from 2e-4, to epoch 65). BUILD (default build/) holds the data and the runs.
#
# ALLSEQ_INIT and BASELINE_INIT (optional) name MRI model packages to start the All-sequence model and the
# 2D baseline from; empty, both train from scratch. INIT_NOTE (optional) is the sentence the model cards print
# about it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CLI=.venv/bin/sacral-tumor-ai
DATA="$BUILD/mri-cohort/datalist.json"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=1
train() { $CLI train-mri --datalist "$DATA" --resume "$@"; }
init() { if [ -n "$1" ]; then echo "--init-model $1"; fi; }
both() { "$@" & }  # a job of a side-by-side pair
wait_all() { local status=0; for job in $(jobs -p); do wait "$job" || status=1; done; return $status; }

[ -f "$DATA" ] || $CLI cohort --modality mri --cases 120 --seed 31 --out "$BUILD/mri-cohort" --no-montage
# Phase 1: All-sequence and the 2D baseline, 8 epochs each; the All-sequence snapshot meets the 2D baseline
# at the same budget.
both train --out "$BUILD/mri-allseq" --config scripts/mri_allseq_config.json --epochs 8 $(init "${ALLSEQ_INIT:-}") > "$BUILD/mri-allseq.log" 2>&1
both train --out "$BUILD/mri-2d" --config scripts/mri_2d_baseline_config.json $(init "${BASELINE_INIT:-}") > "$BUILD/mri-2d.log" 2>&1
wait_all
[ -d "$BUILD/mri-allseq-e8" ] || cp -r "$BUILD/mri-allseq/model" "$BUILD/mri-allseq-e8"
# Phase 2: All-sequence on to its configured epochs; meanwhile 2.5D against 2D at 8 epochs each, every
# sequence alone.
both train --out "$BUILD/mri-allseq" --config scripts/mri_allseq_config.json >> "$BUILD/mri-allseq.log" 2>&1
both $CLI evaluate-mri --model "$BUILD/mri-allseq-e8" --baseline-2d "$BUILD/mri-2d/model" --largest-combination 1 --datalist "$DATA" --split test --out "$BUILD/eval-mri-2d" > "$BUILD/eval-mri-2d.log" 2>&1
wait_all
# Phase 2b: a second, gentler cosine cycle (epochs 46-65, from 2e-4); the best validation epoch so far is
# kept unless a later one beats it.
train --out "$BUILD/mri-allseq" --config scripts/mri_allseq_cycle2_config.json >> "$BUILD/mri-allseq.log" 2>&1
# Phase 3: T2-fusion from the finished All-sequence model; meanwhile the 15 sequence combinations (6 ANTs
# registrations per study) on the first 6 test studies, to keep the build within a 2-core day.
both train --out "$BUILD/mri-t2fusion" --config scripts/mri_t2fusion_config.json --init-model "$BUILD/mri-allseq/model" > "$BUILD/mri-t2fusion.log" 2>&1
both $CLI evaluate-mri --model "$BUILD/mri-allseq/model" --limit 6 --datalist "$DATA" --split test --out "$BUILD/eval-mri-combinations" > "$BUILD/eval-mri-combinations.log" 2>&1
wait_all
# Every sequence alone and T2-fusion on the whole test split.
$CLI evaluate-mri --model "$BUILD/mri-allseq/model" --fusion-model "$BUILD/mri-t2fusion/model" --largest-combination 1 --datalist "$DATA" --split test --out "$BUILD/eval-mri" > "$BUILD/eval-mri.log" 2>&1
.venv/bin/python scripts/install_mri_models.py "$BUILD" --init-note "${INIT_NOTE:-}"
