#!/usr/bin/env bash
# The README's first command: demo data → new workspace → import → validate → clean → the monthly audit.
set -euo pipefail
ws=${1:-demo-workspace}
leads=${2:-20000}
levier=.venv/bin/levier
rm -rf "$ws" demo-data
$levier demo-data --leads "$leads" --seed 7 --out demo-data
$levier init "$ws"
# The demo files hold UTC timestamps; real exports usually hold local time (the workspace default).
for t in leads stage_events touches deals spend web_events assignments orders; do
  for f in demo-data/$t.*; do
    [ -e "$f" ] && $levier import "$f" --table "$t" --timezone UTC --workspace "$ws" --no-validate
  done
done
# The demo data carries injected defects on purpose: validation reports them (exit 1 on blocking ones).
$levier validate --workspace "$ws" || echo "(validation found the demo's injected defects; cleaning handles them)"
$levier clean --workspace "$ws"
$levier audit --workspace "$ws" --format html,pdf,xlsx,md,json --out "$ws/reports" --lang "${LEVIER_LANG:-fr}"
# A living loop for newcomers: a cycle with this audit, a retro, actions (some met, some missed),
# learnings and playbook entries.
$levier seed-demo --workspace "$ws"
echo
echo "Audit note: $ws/reports/ (HTML, PDF, XLSX, Markdown, JSON)"
if [ "${LEVIER_DEMO_SERVE:-1}" = 1 ]; then
  echo "Web app: http://127.0.0.1:${LEVIER_PORT:-8000}/ — log in as admin, camille, ines or lucas; password: levier-demo"
  echo "(Ctrl-C to stop; LEVIER_DEMO_SERVE=0 make demo skips this step)"
  exec $levier serve --workspace "$ws" --port "${LEVIER_PORT:-8000}"
fi
