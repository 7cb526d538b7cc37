#!/usr/bin/env bash
# Benchmark (not a test) of the history queries over a long history:
# NODES nodes × DAYS daily sweeps (default 1,000 × 365: 365k node_runs, ~1.45M maps,
# ~2.9M paths), generated straight into a database that fleet itself created and migrated
# (bench/history-gen.sql, sqlite3; DISTINCT=1: no two scans alike), then times the release binary answering
#   fleet history residuals --since 30d
#   fleet history node NAME
# and a few more listings. Target: < 1 s each.
#
#   bench/history.sh                 # builds the release binary, generates, times
#   NODES=100 DAYS=30 bench/history.sh
#   DISTINCT=1 bench/history.sh      # a state per node run (every scan found something new)
#   FLEET_BIN=/path/to/fleet DB=/tmp/h.sqlite KEEP=1 bench/history.sh
#   GENERATE_ONLY=1 DB=/tmp/h.sqlite bench/history.sh   # only the database (bench/report.sh)
# Records history.query.{shared,distinct}.QUERY.{best,median}_ms (bench/record.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-1000}
DAYS=${DAYS:-365}
RUNS=${RUNS:-5}
DISTINCT=${DISTINCT:-0}
DB=${DB:-/tmp/fleet-bench-history.sqlite}
SCRATCH=${SCRATCH:-.build-release}
BENCH_COMMAND=$( [ "$DISTINCT" = 0 ] || printf 'DISTINCT=1 '; [ "$NODES.$DAYS" = 1000.365 ] || printf 'NODES=%s DAYS=%s ' "$NODES" "$DAYS"; printf 'bench/history.sh')
. bench/record.sh
SET=$( [ "$DISTINCT" = 0 ] && echo shared || echo distinct )

command -v sqlite3 >/dev/null || { echo "bench/history.sh: needs sqlite3 (apt-get install sqlite3)" >&2; exit 1; }
if [ -z "${FLEET_BIN:-}" ]; then
    swift build -c release --scratch-path "$SCRATCH" --product fleet >&2
    FLEET_BIN="$SCRATCH/release/fleet"
fi

if [ -z "${KEEP:-}" ] || [ ! -s "$DB" ]; then
    rm -f "$DB" "$DB-wal" "$DB-shm"
    # fleet creates and migrates the file (the real schema and indexes); its one run goes.
    "$FLEET_BIN" history synthetic-writer --nodes 0 --db "$DB" >/dev/null
    sqlite3 "$DB" "DELETE FROM runs;"
    echo "generating $NODES nodes x $DAYS days into $DB ..."
    t0=$(date +%s.%N)
    sed -e "s/@DAYS@/$DAYS/g" -e "s/@NODES@/$NODES/g" -e "s/@DISTINCT@/$DISTINCT/g" bench/history-gen.sql | sqlite3 "$DB"
    # No ANALYZE: fleet never runs it, so the plans measured are the ones users get.
    sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
    t1=$(date +%s.%N)
    printf 'generated in %.1f s\n' "$(echo "$t1 - $t0" | bc)"
fi
sqlite3 "$DB" "SELECT 'rows: runs ' || (SELECT COUNT(*) FROM runs) || ', node_runs ' || (SELECT COUNT(*) FROM node_runs)
               || ', node_states ' || (SELECT COUNT(*) FROM node_states) || ', maps ' || (SELECT COUNT(*) FROM maps)
               || ' (' || (SELECT COUNT(*) FROM map_observations) || ' observed), paths ' || (SELECT COUNT(*) FROM paths);"
echo "file: $(du -h "$DB" | cut -f1)"
[ -z "${GENERATE_ONLY:-}" ] || exit 0

# Best and median of RUNS runs, wall clock, output to /dev/null (rows counted once).
bench() {
    local key=$1 label=$2; shift 2
    local rows
    rows=$("$FLEET_BIN" "$@" --db "$DB" --format csv | tail -n +2 | wc -l)
    local times=()
    for _ in $(seq "$RUNS"); do
        local s e
        s=$(date +%s%N)
        "$FLEET_BIN" "$@" --db "$DB" --format csv >/dev/null
        e=$(date +%s%N)
        times+=($(( (e - s) / 1000000 )))
    done
    local sorted best median
    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    best=$(echo "$sorted" | head -1)
    median=$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
    printf '%-48s rows %6d   best %5d ms   median %5d ms\n' "$label" "$rows" "$best" "$median"
    bench_record "history.query.$SET.$key.best_ms" "$best" ms
    bench_record "history.query.$SET.$key.median_ms" "$median" ms
}

NODE=$(printf 'node-%04d' $(( NODES / 2 )))
echo "load: $(uptime | sed 's/.*load average: //')"
bench residuals-30d "history residuals --since 30d" history residuals --since 30d
bench residuals-now "history residuals (now)" history residuals
bench node "history node $NODE (default: 30 scans)" history node "$NODE"
bench node-all "history node $NODE --limit 0 (all scans)" history node "$NODE" --limit 0
bench runs "history runs" history runs
bench run "history run $DAYS (1 run, $NODES nodes)" history run "$DAYS"
bench actions-30d "history actions --since 30d" history actions --since 30d
echo "load: $(uptime | sed 's/.*load average: //')"

[ -n "${KEEP:-}" ] || rm -f "$DB" "$DB-wal" "$DB-shm"
