#!/usr/bin/env bash
# Issue 17 (benchmark, not a test): how much the history grows when an unchanged fleet is
# scanned again and again. Brings up an N-node farm (same mix and seed as bench/scan.sh),
# runs `fleet scan` SCANS times into one fresh database, and prints the file size (database
# + WAL, after a checkpoint) after the first scan and after the last, and the growth per
# scan and per node per scan after the first.
#   bench/history-growth.sh [--base ADDR] [N=1000] [SCANS=24] [C=200]
# FLEET_BIN skips the release build; BENCH_MIX as bench/scan.sh. Records
# history.growth.{first,add24}_mb (bench/record.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/record.sh
BASE=${BENCH_BASE:-127.0.2.1}
POS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --base) BASE=$2; shift ;;
        --base=*) BASE=${1#--base=} ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) POS+=("$1") ;;
    esac
    shift
done
N=${POS[0]:-1000}
SCANS=${POS[1]:-24}
C=${POS[2]:-200}
MIX=${BENCH_MIX:-residual=0.1,degraded=0.1}
command -v sqlite3 >/dev/null || { echo "bench/history-growth.sh: needs sqlite3" >&2; exit 1; }
if [ -z "${FLEET_BIN:-}" ]; then
    swift build -c release --product fleet >&2
    FLEET_BIN="$(swift build -c release --show-bin-path)/fleet"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-growth.XXXXXX")
trap 'tools/farm/farm down --dir "$WORK/farm" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
tools/farm/farm up "$N" --dir "$WORK/farm" --base "$BASE" --seed 1 --mix "$MIX" >&2
DB="$WORK/history.sqlite"
size() {
    sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
    local total=0 f
    for f in "$DB" "$DB-wal"; do [ -e "$f" ] && total=$((total + $(stat -c %s "$f"))); done
    echo "$total"
}
first=0
for i in $(seq "$SCANS"); do
    rc=0
    "$FLEET_BIN" scan --inventory "$WORK/farm/inventory.yaml" --db "$DB" --forks "$C" --format json >/dev/null 2>&1 || rc=$?
    s=$(size)
    [ "$i" = 1 ] && first=$s
    printf 'scan %2d exit=%d  history %10d bytes\n' "$i" "$rc" "$s"
done
last=$(size)
sqlite3 "$DB" "SELECT 'rows: node_runs ' || (SELECT COUNT(*) FROM node_runs) || ', node_states ' || (SELECT COUNT(*) FROM node_states)
               || ', maps ' || (SELECT COUNT(*) FROM maps) || ', output_sets ' || (SELECT COUNT(*) FROM output_sets)
               || ', outputs ' || (SELECT COUNT(*) FROM outputs) || ', contents ' || (SELECT COUNT(*) FROM contents);"
python3 - "$N" "$SCANS" "$first" "$last" <<'PY'
import sys
n, scans, first, last = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print("history after scan 1:      %8.2f MB (%.1f KB/node)" % (first / 1e6, first / n / 1e3))
print("history after scan %-3d     %8.2f MB" % (scans, last / 1e6))
if scans > 1:
    grow = last - first
    print("scans 2..%d added:         %8.2f MB (%.2f MB/scan, %.0f B/node/scan)" % (scans, grow / 1e6, grow / (scans - 1) / 1e6, grow / (scans - 1) / n))
    print("%d scans of %d nodes add   %8.2f MB beyond the first scan; at this rate %d scans add %.2f MB"
          % (scans, n, grow / 1e6, 24, grow / (scans - 1) * 24 / 1e6))
PY
bench_record history.growth.first_mb "$(awk -v f="$first" 'BEGIN { printf "%.2f", f / 1e6 }')" MB
if [ "$SCANS" -gt 1 ]; then
    bench_record history.growth.add24_mb "$(awk -v f="$first" -v l="$last" -v s="$SCANS" 'BEGIN { printf "%.2f", (l - f) / (s - 1) * 24 / 1e6 }')" MB
fi
