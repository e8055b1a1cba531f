#!/usr/bin/env bash
# Train word2vec on the shipped Jane Austen corpus (six novels, ~730k words, public domain)
# and ask the vectors a few questions. Creates .venv with gputrain if it is missing.
#   scripts/demo.sh [OUT_DIR]          (default: demo-output/)
# Takes about a minute on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${1:-demo-output}

if [ ! -x .venv/bin/gputrain ]; then
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[plot]'
fi
GT=.venv/bin/gputrain
mkdir -p "$OUT"

echo "== training skip-gram on gputrain/data/austen.txt.gz (dim 100, 3 epochs, 2 workers)"
"$GT" w2v gputrain/data/austen.txt.gz -o "$OUT/austen.bin" --dim 100 --epochs 3 \
  --threads 2 --device cpu --events "$OUT/events.jsonl"

for word in elizabeth darcy sister morning; do
  echo; echo "== gputrain neighbors $OUT/austen.bin $word -n 8"
  "$GT" neighbors "$OUT/austen.bin" "$word" -n 8
done

echo; echo "== gputrain analogy $OUT/austen.bin brother sister father   (brother : sister :: father : ?)"
"$GT" analogy "$OUT/austen.bin" brother sister father -n 5
echo; echo "== gputrain analogy $OUT/austen.bin he his she"
"$GT" analogy "$OUT/austen.bin" he his she -n 5

echo; echo "vectors: $OUT/austen.bin; loss curve: $OUT/austen.bin.loss.png; events: $OUT/events.jsonl"
