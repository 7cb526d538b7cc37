#!/usr/bin/env bash
# `make demo`: a 20-node simulated farm (tools/farm/scenarios/demo.yaml) on loopback, then
#   fleet scan -> fleet clean (dry run) -> fleet clean --execute -> fleet scan again,
# with its own temporary history database. The farm is always taken down at the end.
# FLEET_BIN=path uses an already built fleet; DEMO_BASE changes the farm's first address.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${FLEET_BIN:-}" ]; then
    swift build --product fleet >&2
    FLEET_BIN="$(swift build --show-bin-path)/fleet"
fi
BASE=${DEMO_BASE:-127.0.2.1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fleet-demo.XXXXXX")
FARM=$WORK/farm
DB=$WORK/history.sqlite
cleanup() { tools/farm/farm down --dir "$FARM" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

tools/farm/farm up 20 --dir "$FARM" --base "$BASE" --scenario tools/farm/scenarios/demo.yaml
INV=$FARM/inventory.yaml

step() {
    echo
    echo "\$ fleet $*"
    set +e
    "$FLEET_BIN" "$@"
    local rc=$?
    set -e
    echo "(exit status $rc)"
}

# The demo farm has no Kubernetes API: --no-kubernetes (a real fleet asks the cluster
# through kubectl and cleans nothing when it cannot; docs/kubernetes.md).
step scan --no-kubernetes --inventory "$INV" --db "$DB" --probe-timeout 5s
# The scan above is the first all-failed observation; clean's own scan is the second.
step clean --no-kubernetes --inventory "$INV" --db "$DB" --probe-timeout 5s --confirm-after 0s
step clean --no-kubernetes --inventory "$INV" --db "$DB" --probe-timeout 5s --confirm-after 0s --execute
step scan --no-kubernetes --inventory "$INV" --db "$DB" --probe-timeout 5s
step history runs --db "$DB"
