#!/usr/bin/env bash
# One-slice propagation on CHAOS MR T2-SPIR (liver = 1, spleen = 4), both training modes, every method.
#   benchmarks/chaos_propagation.sh DATA_DIR OUT_DIR
# DATA_DIR holds images/ and labels/ (e.g. ../shared/data/chaos_mr_t2spir). Writes into OUT_DIR:
#   tta.json         ours with test-time adaptation on each volume (60 s), and the baselines copy, demons, raw
#   fold-a-sS.json/-b-sS  ours with a network trained (1800 steps, about 7 min on 2 CPU cores, no labels) on
#                    the other half of the volumes, once per training seed S (SEEDS, default "0 1 2": one
#                    training's networks move the liver's mean Dice by up to 0.015, so the table pools three)
set -euo pipefail
data="${1:?usage: $0 DATA_DIR OUT_DIR}"
out="${2:?usage: $0 DATA_DIR OUT_DIR}"
mkdir -p "$out"
run() { "$(dirname "$0")/../.venv/bin/sparselabel" "$@"; }

mapfile -t cases < <(ls "$data/images" | sed 's/\.nii\.gz$//' | sort)
half=$(( ${#cases[@]} / 2 ))
fold_a=$(IFS=,; echo "${cases[*]:0:$half}")
fold_b=$(IFS=,; echo "${cases[*]:$half}")

run evaluate propagation --images "$data/images" --labels "$data/labels" --structure 1,4 \
  --anchor representative --methods ours,copy,demons,raw --json "$out/tta.json" --overwrite

# Trained mode: two folds; each half is evaluated with a network that never saw it (and never sees labels).
for seed in ${SEEDS:-0 1 2}; do
  for fold in a b; do
    if [ "$fold" = a ]; then train=$fold_b; test=$fold_a; else train=$fold_a; test=$fold_b; fi
    rm -rf "$out/train-$fold" && mkdir -p "$out/train-$fold"
    for c in ${train//,/ }; do ln -s "$(cd "$data/images" && pwd)/$c.nii.gz" "$out/train-$fold/"; done
    run train-propagator "$out/train-$fold" --steps 1800 --seed "$seed" --out "$out/propagator-$fold-s$seed.pt" \
      --overwrite
    run evaluate propagation --images "$data/images" --labels "$data/labels" --structure 1,4 \
      --anchor representative --methods ours --model "$out/propagator-$fold-s$seed.pt" --cases "$test" \
      --json "$out/fold-$fold-s$seed.json" --overwrite
  done
done
