#!/usr/bin/env bash
# The README's first command: demo data → new workspace → import → validate → clean → main job.
set -euo pipefail
ws=${1:-demo-workspace}
leads=${2:-20000}
levier=.venv/bin/levier
rm -rf "$ws" demo-data
$levier demo-data --leads "$leads" --seed 7 --out demo-data
$levier init "$ws"
for t in leads stage_events touches deals spend web_events assignments orders; do
  for f in demo-data/$t.*; do [ -e "$f" ] && $levier import "$f" --table "$t" --workspace "$ws" --no-validate; done
done
$levier validate --workspace "$ws" || true   # the demo data carries injected defects on purpose
$levier clean --workspace "$ws"
$levier info --workspace "$ws"
