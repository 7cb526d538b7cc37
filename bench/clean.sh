#!/usr/bin/env bash
# Issue 13: `fleet clean --execute` of an N-node simulated farm at concurrency C (release
# build), every node with a residual map to clean.
#   bench/clean.sh [--base ADDR] [--dry-run] [N=1000] [C=200]
# The farm (BENCH_MIX, default residual=1,degraded=0.1: every node has one residual map
# besides its 1-3 healthy ones, and no down/silent/hung node whose timeouts would measure the
# deadlines) is scanned twice, untimed: two all-failed observations, as the clean requires.
# Then the measured run, as the README documents it for a recorded scan:
#   fleet clean --from-run ID --confirm-after 0s --execute --batch 100% --max-in-flight C
#               --forks C --no-kubernetes --format json
# (the farm has no Kubernetes API server). --dry-run: the same without --execute (plans and
# prints every node's commands; no session to the nodes after the scans). Prints wall s, client CPU s (user+sys of the
# fleet process alone, from wait4's rusage), peak RSS (ru_maxrss), the load (`uptime`
# before and after), and checks the report: every node once, the summary's counts equal
# to the per-node sections, and the history's actions for the run.
# Addresses from --base or BENCH_BASE. FLEET_BIN skips the release build.
# Records clean.N.{wall_s,cpu_ms_per_node,rss_mib} (bench/record.sh; with --dry-run
# clean.dry-run.N.…), only when the clean did what the checks above expect; bench/summary.sh
# reads clean.{1000,5000}.rss_mib.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/record.sh
BASE=${BENCH_BASE:-127.0.2.1}
EXECUTE=1
POS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --base) BASE=$2; shift ;;
        --base=*) BASE=${1#--base=} ;;
        --dry-run) EXECUTE=0 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) POS+=("$1") ;;
    esac
    shift
done
N=${POS[0]:-1000}
C=${POS[1]:-200}
MIX=${BENCH_MIX:-residual=1,degraded=0.1}

if [ -z "${FLEET_BIN:-}" ]; then
    swift build -c release --product fleet >&2
    FLEET_BIN="$(swift build -c release --show-bin-path)/fleet"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-clean.XXXXXX")
trap 'tools/farm/farm down --dir "$WORK/farm" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
tools/farm/farm up "$N" --dir "$WORK/farm" --base "$BASE" --seed 1 --mix "$MIX" >&2

python3 - "$FLEET_BIN" "$WORK" "$N" "$C" "$EXECUTE" <<'PY'
import json, os, sqlite3, subprocess, sys, time
fleet, work, n, c, execute = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
inv, db = os.path.join(work, "farm", "inventory.yaml"), os.path.join(work, "history.sqlite")

def uptime():
    return open("/proc/loadavg").read().split()[:3]

for i in range(2):
    code = subprocess.call([fleet, "scan", "--inventory", inv, "--db", db, "--forks", str(c), "--format", "json"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    if code != 1:
        sys.exit("bench/clean.sh: scan %d exited %d (1 expected: residual maps found)" % (i + 1, code))
con = sqlite3.connect(db)
scan_run = con.execute("SELECT max(id) FROM runs WHERE kind = 'scan'").fetchone()[0]

args = [fleet, "clean", "--inventory", inv, "--db", db, "--from-run", str(scan_run), "--confirm-after", "0s",
        *(["--execute"] if execute else []), "--batch", "100%", "--max-in-flight", str(c), "--forks", str(c), "--no-kubernetes",
        "--format", "json"]
load_before = uptime()
t0 = time.monotonic()
out = open(os.path.join(work, "clean.json"), "w")
proc = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

# Where the memory is, sampled from /proc/PID/status every half second until the process
# exits: heap and stacks (RssAnon), mapped files (RssFile), shared memory such as SQLite's
# WAL index (RssShmem), and the thread count; ru_maxrss below gives only the total.
FIELDS = ("RssAnon", "RssFile", "RssShmem", "Threads")
samples = []
threads = {}  # tid -> (first seen, name)
import threading
exited = threading.Event()
def sample():
    # Not proc.poll(): it could reap the child before wait4 below gets its rusage.
    while not exited.is_set():
        try:
            status = dict(l.split(":", 1) for l in open("/proc/%d/status" % proc.pid) if ":" in l)
            samples.append((time.monotonic() - t0, *(int(status[f].split()[0]) for f in FIELDS)))
            for tid in os.listdir("/proc/%d/task" % proc.pid):
                if tid not in threads:
                    threads[tid] = (time.monotonic() - t0, open("/proc/%d/task/%s/comm" % (proc.pid, tid)).read().strip())
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.5)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
_, status, ru = os.wait4(proc.pid, 0)
exited.set()
sampler.join()
wall = time.monotonic() - t0
load_after = uptime()
out.close()
code = os.waitstatus_to_exitcode(status)

doc = json.load(open(os.path.join(work, "clean.json")))
names = [x["node"] for x in doc["nodes"]]
cleaned = sum(1 for x in doc["nodes"] for m in x["maps"] if m["outcome"] == ("cleaned" if execute else "planned"))
clean_run = doc["run"]
ok_actions = con.execute("SELECT count(DISTINCT node) FROM actions WHERE run_id = ? AND outcome = 'ok'", (clean_run,)).fetchone()[0]
cpu = ru.ru_utime + ru.ru_stime
print("fleet clean %s: N=%d C=%d exit=%d nodes in report=%d (distinct %d) maps %s=%d, nodes with ok actions in the history=%d"
      % ("--execute" if execute else "(dry run)", n, c, code, len(names), len(set(names)),
         "cleaned" if execute else "planned", cleaned, ok_actions))
print("wall            %8.2f s  (load %s before, %s after)" % (wall, " ".join(load_before), " ".join(load_after)))
print("client CPU      %8.2f s  (user %.2f + sys %.2f)" % (cpu, ru.ru_utime, ru.ru_stime))
print("client CPU/node %8.2f ms" % (cpu * 1000 / n))
print("peak RSS        %8.1f MiB" % (ru.ru_maxrss / 1024))
if samples:
    print("peak RssAnon %.1f MiB, RssFile %.1f MiB, RssShmem %.1f MiB, threads %d (each the peak of %d samples)"
          % tuple([max(x[i] for x in samples) / 1024 for i in (1, 2, 3)] + [max(x[4] for x in samples), len(samples)]))
    print("threads: " + ", ".join("%s from %.0f s" % (name, t) for t, name in sorted(threads.values())))
    step = max(1, len(samples) // 12)
    print("  t s     anon MiB  shmem MiB  threads")
    for x in samples[::step] + samples[-1:]:
        print("  %6.0f  %8.1f  %9.1f  %7d" % (x[0], x[1] / 1024, x[3] / 1024, x[4]))
print("report          %8.1f MiB of JSON" % (os.path.getsize(os.path.join(work, "clean.json")) / 2**20))
if code != 0 or len(names) != n or len(set(names)) != n or cleaned < n:
    sys.exit("bench/clean.sh: the clean did not clean every node's residual map once (see above)")
# For bench_record below: KEY VALUE UNIT, one per line.
with open(os.path.join(work, "numbers"), "w") as f:
    f.write("wall_s %.3f s\ncpu_ms_per_node %.3f ms\nrss_mib %.1f MiB\n" % (wall, cpu * 1000 / n, ru.ru_maxrss / 1024))
PY
PREFIX=clean.$N
[ "$EXECUTE" = 1 ] || PREFIX=clean.dry-run.$N
while read -r key value unit; do
    bench_record "$PREFIX.$key" "$value" "$unit"
done < "$WORK/numbers"
