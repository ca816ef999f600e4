#!/usr/bin/env bash
# Rebuild the bundled CT segmentation model with the project's own commands: generate the cohorts, train
# (resumable: run again after an interruption), calibrate the tumour's decision offset and the bone edges' HU
# thresholds on validation cases, evaluate, write the model card, install it.
# BUILD (default build/) holds the data and the run.
#
# Stages: (2) v0.4.2's package (v0.4.0's weights) fine-tuned 15 epochs on generator 1.6 cohorts without hip
# prostheses plus the real-CT insertions (BUILD/ct-seg-ft: v0.11.0); (3) 4 epochs more with 48 prosthesis
# cases added (BUILD/ct-seg-metal: v0.12.0), since v0.11.1 called the tissue around a prosthesis's streaks
# tumour; then calibration, evaluations and installation of stage 3's package (v0.12.1). The bundled v0.11.1
# is stage 2 calibrated, made by this script as of commit 71460de (no stage 3); v0.12.1 is a candidate, not
# bundled (a false tumour in the real CT's bladder; docs/ct-segmentation.md, "What was tried"). v0.4.2 itself came from this script as of commit 01c770b (generator 1.3; its
# fine-tuning configuration is now scripts/experiments/ct_finetune_v0.4.0_config.json). The build installs
# over the bundled package, so the initial package is copied out first:
#   mkdir -p build/init && for f in model.json weights.safetensors MODEL_CARD.md; do
#     git show 7d43206:SacralTumorAI/sacral_tumor_ai/data/models/ct-seg/$f > build/init/$f; done   (v0.4.2)
#   CT_FINETUNE_INIT=build/init scripts/build_ct_model.sh
# The bundled package recalibrated (its weights kept; offsets, bone edges and tumour confidence chosen again,
# with test-time mirroring when CT_MIRROR=1; no training; 25-50 minutes here on 2026-11-28):
#   mkdir -p build/bundled && cp SacralTumorAI/sacral_tumor_ai/data/models/ct-seg/* build/bundled/
#   CT_RECALIBRATE=build/bundled CT_VERSION=0.11.2 scripts/build_ct_model.sh   (v0.11.2 from v0.11.1)
# v0.14.0 is v0.13.1 recalibrated at windows of 64^3 (overlap 0.5) instead of 96^3:
#   mkdir -p build/init-v0131 && for f in model.json weights.safetensors MODEL_CARD.md; do
#     git show bd27d10:SacralTumorAI/sacral_tumor_ai/data/models/ct-seg/$f > build/init-v0131/$f; done
#   CT_RECALIBRATE=build/init-v0131 CT_MIRROR=1 CT_VERSION=0.14.0 scripts/build_ct_model.sh
# Stage 4 alone, from the bundled v0.11.3 (v0.13.1: 20 minutes of training, then calibration and evaluations):
#   mkdir -p build/init-v0113 && for f in model.json weights.safetensors MODEL_CARD.md; do
#     git show 7fce90e:SacralTumorAI/sacral_tumor_ai/data/models/ct-seg/$f > build/init-v0113/$f; done
#   CT_CONTINUE_MODEL=build/init-v0113 CT_MIRROR=1 CT_VERSION=0.13.1 scripts/build_ct_model.sh
# Stage 3 alone, from the bundled v0.11.1 (stage 2's weights; about 2 hours here, 2026-11-28):
#   mkdir -p build/init-v0111 && cp SacralTumorAI/sacral_tumor_ai/data/models/ct-seg/* build/init-v0111/
#   CT_STAGE2_MODEL=build/init-v0111 scripts/build_ct_model.sh
# Each fine-tuning epoch (172-206 training cases, 24-32 validation cases) takes 9-35 minutes on a 2-core CPU
# (the machine's speed varies), so stage 2 takes 2.5-4 hours, stage 3 about an hour, and the calibration and
# evaluations an hour more; a stopped run resumes where it was. Stage 2's recipe was measured as the v0.9.0
# experiment (docs/ct-segmentation.md); a 4-epoch run of it from v0.4.0 (v0.10.0) was not enough. The
# generated cohorts of stage 2 are made without prostheses (generator 1.7 as 1.6, voxel for voxel), as
# v0.11.0's were. Without CT_FINETUNE_INIT, stage 1 trains from scratch on the generated cohort first
# (scripts/ct_model_config.json): the recipe, not the lineage of the bundled weights (v0.1.0 -> v0.4.0 on
# generators 1.0-1.3). CT_VERSION names the calibrated package's version.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CLI=.venv/bin/sacral-tumor-ai
# Generated cases at the generator's default scan settings (0.6-1.0 mm pixels, 1-5 mm slices), coarser ones
# (1.5-3.2 mm pixels, 2-5 mm slices, as many clinical scans are), and lesions inserted into the real CT.
[ -f "$BUILD/gen-ct/datalist.json" ] || $CLI cohort --cases 100 --seed 16 --out "$BUILD/gen-ct" --no-montage --no-prostheses
[ -f "$BUILD/gen-coarse/datalist.json" ] || $CLI cohort --cases 70 --seed 17 --out "$BUILD/gen-coarse" --in-plane-mm 1.5 3.2 --slice-mm 2 5 --no-montage --no-prostheses
[ -f "$BUILD/real-ct/datalist.json" ] || $CLI cohort --cases 80 --seed 12 --out "$BUILD/real-ct" --source real --no-montage
DATA=("$BUILD/gen-ct/datalist.json" "$BUILD/gen-coarse/datalist.json" "$BUILD/real-ct/datalist.json")
# Hip prostheses: the first 48 cases of seed 18 that have one (generator 1.7 metal and streaks), for stage 3.
[ -f "$BUILD/gen-metal/datalist.json" ] || $CLI cohort --cases 48 --seed 18 --out "$BUILD/gen-metal" --prostheses-only --no-montage
if [ -n "${CT_RECALIBRATE:-}" ]; then
  # A recalibration: a package's weights unchanged (copied out of the package folder first, as for stage 3
  # below), its calibrations below chosen again on the data lists v0.11.1's were chosen on.
  rm -rf "$BUILD/recalibrated-from"
  cp -r "$CT_RECALIBRATE" "$BUILD/recalibrated-from"
  TRAINED="$BUILD/recalibrated-from"
elif [ -n "${CT_CONTINUE_MODEL:-}" ]; then
  # Stage 4: a package's weights (the bundled v0.11.3's, copied out of the package folder first) fine-tuned
  # 10 epochs more on the stage-2 data in bfloat16 (2 minutes an epoch on this machine's CPU), then calibrated
  # and evaluated as below. No prosthesis cases: v0.11.3's weights never saw them either.
  rm -rf "$BUILD/recalibrated-from"
  $CLI train-seg --datalist "${DATA[@]}" --out "$BUILD/ct-seg-continue" \
    --config scripts/ct_continue_config.json --init-model "$CT_CONTINUE_MODEL" --resume
  TRAINED="$BUILD/ct-seg-continue/model"
else
  rm -rf "$BUILD/recalibrated-from"  # the card tells a recalibration by it
  # Stage 1: generated cases only. Stage 2: fine-tuning on generated cases plus lesions inserted into the real
  # CT (tumour-only labels, marginal loss, so the unlabelled real bones are never called background).
  if [ -z "${CT_FINETUNE_INIT:-}" ] && [ -z "${CT_STAGE2_MODEL:-}" ]; then
    $CLI train-seg --datalist "$BUILD/gen-ct/datalist.json" --out "$BUILD/ct-seg-run" --config scripts/ct_model_config.json --resume
  fi
  # CT_STAGE2_MODEL (a package whose weights are stage 2's, such as the bundled v0.11.1, copied out of the
  # package folder first) skips stages 1 and 2.
  if [ -z "${CT_STAGE2_MODEL:-}" ]; then
    $CLI train-seg --datalist "${DATA[@]}" --out "$BUILD/ct-seg-ft" \
      --config scripts/ct_finetune_config.json --init-model "${CT_FINETUNE_INIT:-$BUILD/ct-seg-run/model}" --resume
  fi
  # Stage 3: a few epochs more with the prosthesis cases added (v0.11.1, stage 2 alone, called the tissue
  # around a prosthesis's streaks tumour: scripts/metal_effect.py, docs/ct-segmentation.md).
  DATA+=("$BUILD/gen-metal/datalist.json")
  $CLI train-seg --datalist "${DATA[@]}" --out "$BUILD/ct-seg-metal" \
    --config scripts/ct_metal_finetune_config.json --init-model "${CT_STAGE2_MODEL:-$BUILD/ct-seg-ft/model}" --resume
  TRAINED="$BUILD/ct-seg-metal/model"
fi
# The tumour's decision offset chosen on 8 validation cases of each data list (the weights are untouched).
# Bone offsets stay at 0: only generated bones are labelled, and offsets fitted to them erased real bone in the
# real CT (see the model card). Test-time mirroring (CT_MIRROR=1) doubles the network's time; on v0.9.0's
# validation cases it gained less than the noise of 24 cases, on v0.11.2's seed-16 test split 0.035 tumour Dice.
# The sliding window is the training patches' size (64^3, every stage's train_patch_size): the network's
# instance normalisation makes windows of another size a different input (until v0.13.1 the packages ran
# 96^3 windows and drew every tumour with a rim of muscle); overlap 0.5, as windows of 64^3 at 0.25 cut
# some large tumours short at the windows' edges (docs/ct-segmentation.md).
MIRROR=$([ -n "${CT_MIRROR:-}" ] && echo --mirror || echo --no-mirror)
$CLI calibrate-seg --model "$TRAINED" --datalist "${DATA[@]}" --split validation --limit 8 \
  --labels tumor "$MIRROR" --window 64 64 64 --overlap 0.5 --version "${CT_VERSION:-0.12.1}" --out "$BUILD/ct-seg-cal"
# The bone surfaces refined at the input's resolution: HU thresholds chosen on generated validation cases
# finer than the model grid (the real CT's 3 mm voxels are coarser, so it is never refined).
$CLI calibrate-edges --model "$BUILD/ct-seg-cal" --datalist "$BUILD/gen-ct/datalist.json" --split validation --limit 8 --out "$BUILD/ct-seg-edges"
# The tumour probability a tumour piece must reach to be kept, chosen on the same validation cases (on the
# lesion-free real CT v0.11.1's false bladder pieces peaked at 0.85, its true tumours at 1.000).
$CLI calibrate-confidence --model "$BUILD/ct-seg-edges" --datalist "${DATA[@]}" --split validation --limit 8 --out "$BUILD/ct-seg-conf"
# Whether (and from what density contrast) the rim of tissue drawn around a tumour is peeled, chosen on the
# same validation cases (v0.13.0's tumours carried a rim of muscle the network was unsure of).
$CLI calibrate-tumour-edges --model "$BUILD/ct-seg-conf" --datalist "${DATA[@]}" --split validation --limit 8 --out "$BUILD/ct-seg-tumour-edges"
MODEL="$BUILD/ct-seg-tumour-edges" PREVIOUS="$TRAINED"
# A third generated cohort at the default settings, never used in training or calibration (all 25 scored).
[ -f "$BUILD/gen-default/datalist.json" ] || $CLI cohort --cases 25 --seed 2026 --out "$BUILD/gen-default" --no-montage --no-prostheses
evaluate() {  # MODEL_FOLDER SUFFIX: the test sets the card reports
  $CLI evaluate-seg --model "$1" --datalist "$BUILD/gen-ct/datalist.json" --split test --out "$BUILD/eval-generated$2"
  $CLI evaluate-seg --model "$1" --datalist "$BUILD/real-ct/datalist.json" --split test --structures tumor --out "$BUILD/eval-real$2"
}
evaluate "$MODEL" ""
$CLI evaluate-seg --model "$MODEL" --datalist "$BUILD/gen-coarse/datalist.json" --split test --out "$BUILD/eval-generated-coarse"
$CLI evaluate-seg --model "$MODEL" --datalist "$BUILD/gen-default/datalist.json" --split all --out "$BUILD/eval-generated-default"
$CLI evaluate-seg --model "$MODEL" --datalist "$BUILD/gen-metal/datalist.json" --split test --out "$BUILD/eval-generated-metal"
$CLI evaluate-seg --model "$MODEL" --datalist "$BUILD/gen-ct/datalist.json" --split test --provider classical --out "$BUILD/eval-classical"
# For the card: the model before calibration, and the bundled model this build replaces (for a
# recalibration of the bundled model, the same one).
evaluate "$PREVIOUS" -previous
[ -n "${CT_RECALIBRATE:-}" ] || evaluate SacralTumorAI/sacral_tumor_ai/data/models/ct-seg -bundled
.venv/bin/python scripts/metal_effect.py --model "$MODEL" --out "$BUILD/metal-effect"
# The real CT itself, no lesion inserted: what tumour the model still calls there, and the warnings.
$CLI run "$(.venv/bin/python -c 'from sacral_tumor_ai.demo import demo_ct_path; print(demo_ct_path())')" --model "$MODEL" --out "$BUILD/lesion-free"
.venv/bin/python scripts/install_ct_model.py "$BUILD"
