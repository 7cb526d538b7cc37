#!/usr/bin/env bash
# The README's screenshot of `fleet report` (docs/report.png): starts the demo farm
# (tools/farm/scenarios/demo.yaml) on loopback, scans, cleans, makes residual maps come back
# on three nodes (their paths fail, as after another array-side unmapping), scans and cleans
# again, renders the report and screenshots it with headless Chromium (Debian's `chromium`).
# Its own temporary history; the farm is always taken down.
#
#   tools/report-screenshot.sh                       # builds fleet, writes docs/report.png
#   FLEET_BIN=path BASE=127.0.105.1 OUT=/tmp/r.png tools/report-screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${FLEET_BIN:-}" ]; then
    swift build --product fleet >&2
    FLEET_BIN="$(swift build --show-bin-path)/fleet"
fi
BASE=${BASE:-127.0.105.1}
OUT=${OUT:-docs/report.png}
SIZE=${SIZE:-1400,2300}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fleet-report-shot.XXXXXX")
FARM=$WORK/farm
DB=$WORK/history.sqlite
cleanup() { tools/farm/farm down --dir "$FARM" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

tools/farm/farm up 20 --dir "$FARM" --base "$BASE" --scenario tools/farm/scenarios/demo.yaml >&2
INV=$FARM/inventory.yaml
fleet() { "$FLEET_BIN" "$@" --db "$DB" --probe-timeout 5s >/dev/null 2>&1 || true; }

fleet scan --inventory "$INV"
fleet clean --no-kubernetes --inventory "$INV" --confirm-after 0s --execute
# Residual maps come back: a healthy map of each of these nodes loses its LUN.
for node in node-0001 node-0004 node-0009; do
    wwid=$(tools/farm/farm state "$node" --dir "$FARM" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(next(w for w, v in sorted(s["expected"].items()) if v == "healthy"))')
    tools/farm/farm set "$node" fail-paths "$wwid" queueing "$wwid" off --dir "$FARM" >&2
done
fleet scan --inventory "$INV"
fleet clean --no-kubernetes --inventory "$INV" --confirm-after 0s --execute
fleet scan --inventory "$INV"

"$FLEET_BIN" report --db "$DB" --out "$WORK/report.html"
timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$WORK/chromium" \
    --window-size="$SIZE" --screenshot="$OUT" "file://$WORK/report.html" 2>/dev/null
[ -z "${KEEP_HTML:-}" ] || cp "$WORK/report.html" "$KEEP_HTML"
echo "wrote $OUT"
