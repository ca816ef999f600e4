#!/usr/bin/env bash
# Rebuild the bundled tumour classifier with the project's own commands: generate the cohort, train the
# three ablation variants (image; image + clinical; image + clinical + location), evaluate each on the
# held-out test split, compare the full model with the image-only one (DeLong), write the model card and
# install the full model. Resumable: run again after an interruption. BUILD (default build/) holds it all.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CLI=.venv/bin/sacral-tumor-ai
[ -f "$BUILD/cls-ct/datalist.json" ] || $CLI cohort --cases 480 --seed 21 --out "$BUILD/cls-ct" --in-plane-mm 1.6 2.0 --slice-mm 2 3 --no-montage
for inputs in image+clinical+location image image+clinical clinical+location; do
  run="$BUILD/cls-${inputs//+/-}"
  config=scripts/classifier_config.json
  [ "$inputs" = clinical+location ] && config=scripts/classifier_clinical_location_config.json  # its own package name
  $CLI train-cls --datalist "$BUILD/cls-ct/datalist.json" --out "$run" --config "$config" --inputs "$inputs" --cache "$BUILD/cls-cache" --resume
  $CLI evaluate-cls --model "$run/model" --datalist "$BUILD/cls-ct/datalist.json" --split test --out "$run/eval-test" --cache "$BUILD/cls-cache"
done
$CLI compare-cls "$BUILD/cls-image-clinical-location/eval-test/predictions.csv" "$BUILD/cls-image/eval-test/predictions.csv" \
  --model "$BUILD/cls-image-clinical-location/model" --out "$BUILD/cls-compare"
.venv/bin/python scripts/install_classifier.py "$BUILD"
