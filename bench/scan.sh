#!/usr/bin/env bash
# Issue 8: `fleet scan` of an N-node simulated farm at concurrency C (release build).
#   bench/scan.sh [N=1000] [C=200]
# Prints wall s, client CPU s (user+sys of the fleet process alone, from wait4's rusage),
# client CPU ms/node, peak RSS (ru_maxrss), and the farm's node-side CPU over the same run.
#
# Node-side CPU: every sshd the farm starts is a listener daemon (pid files in DIR/run);
# each connection's sshd, the user's shell, the discovery script and the shims are its
# descendants, and their CPU is added to the daemon's cutime+cstime as each is reaped. The
# bench reads /proc/<daemon>/stat (utime+stime+cutime+cstime) before and after the scan;
# the difference is the node side of the run (it also includes the daemons' own accept work).
# Farm: BENCH_MIX (default residual=0.1,degraded=0.1: no down/silent/hung nodes, whose
# timeouts would measure the deadlines, not the throughput), addresses from BENCH_BASE.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
C=${2:-200}
MIX=${BENCH_MIX:-residual=0.1,degraded=0.1}
BASE=${BENCH_BASE:-127.0.2.1}
if [ -z "${FLEET_BIN:-}" ]; then
    swift build -c release --product fleet >&2
    FLEET_BIN="$(swift build -c release --show-bin-path)/fleet"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-scan.XXXXXX")
trap 'tools/farm/farm down --dir "$WORK/farm" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
tools/farm/farm up "$N" --dir "$WORK/farm" --base "$BASE" --seed 1 --mix "$MIX" >&2

python3 - "$FLEET_BIN" "$WORK" "$N" "$C" <<'PY'
import glob, os, subprocess, sys, time
fleet, work, n, c = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tick = os.sysconf("SC_CLK_TCK")

def daemons():
    pids = []
    for f in glob.glob(os.path.join(work, "farm", "run", "*.pid")):
        try:
            pids.append(int(open(f).read().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
    return pids

def node_cpu(pids):
    total = 0
    for p in pids:
        try:
            fields = open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except OSError:
            pass
    return total / tick

pids = daemons()
before = node_cpu(pids)
t0 = time.monotonic()
args = [fleet, "scan", "--inventory", os.path.join(work, "farm", "inventory.yaml"),
        "--db", os.path.join(work, "history.sqlite"), "--forks", str(c), "--format", "json"]
out = open(os.path.join(work, "scan.json"), "w")
proc = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL)
_, status, ru = os.wait4(proc.pid, 0)
wall = time.monotonic() - t0
time.sleep(0.5)  # let the daemons reap their last children
after = node_cpu(pids)
code = os.waitstatus_to_exitcode(status)
cpu = ru.ru_utime + ru.ru_stime
node = after - before
import json
doc = json.load(open(os.path.join(work, "scan.json")))
ok = sum(1 for x in doc["nodes"] if x["status"] == "ok")
print("fleet scan: N=%d C=%d exit=%d nodes ok=%d/%d" % (n, c, code, ok, len(doc["nodes"])))
print("wall            %8.2f s" % wall)
print("client CPU      %8.2f s  (user %.2f + sys %.2f)" % (cpu, ru.ru_utime, ru.ru_stime))
print("client CPU/node %8.2f ms" % (cpu * 1000 / n))
print("peak RSS        %8.1f MiB" % (ru.ru_maxrss / 1024))
print("node-side CPU   %8.2f s  (%.1f ms/node; / %d cores = %.2f s)" % (node, node * 1000 / n, os.cpu_count(), node / os.cpu_count()))
print("wall / (node-side CPU / cores) = %.2f" % (wall / (node / os.cpu_count()) if node > 0 else float("nan")))
PY
