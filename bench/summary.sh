#!/usr/bin/env bash
# Prints the numbers the bench scripts recorded (bench/record.sh: one KEY VALUE UNIT COMMAND
# LOAD line each, in the file BENCH_SUMMARY names) as one table: first issue 17's "Done
# when" items (README "Measured") with their target, then every recorded number. `make bench`
# runs it last. A number no script recorded reads "not measured" (e.g. peers without
# PEERS=1, a bench that failed or is not in this checkout yet).
#   bench/summary.sh [FILE]        # default $BENCH_SUMMARY
set -euo pipefail
FILE=${1:-${BENCH_SUMMARY:-}}
[ -n "$FILE" ] && [ -r "$FILE" ] || { echo "usage: bench/summary.sh FILE (lines from bench/record.sh)" >&2; exit 64; }
python3 - "$FILE" <<'PY'
import sys
rows = {}
order = []
for line in open(sys.argv[1], encoding="utf-8"):
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 5:
        continue
    key, value, unit, command, load = parts
    if key not in rows:
        order.append(key)
    rows[key] = dict(value=float(value), unit=unit, command=command, load=load)  # the last one wins

def get(key):
    return rows.get(key)

def fmt(r):
    v = r["value"]
    return ("%.0f" % v if abs(v) >= 1000 else "%.2f" % v) + (" " + r["unit"] if r["unit"] else "")

lines = []   # (item, number, target, verdict, command, load)
def item(label, key, target=None, ok=None):
    r = get(key)
    if r is None:
        lines.append((label, "not measured", target or "", "", "", ""))
        return None
    verdict = "" if ok is None else ("met" if ok(r["value"]) else "NOT met")
    lines.append((label, fmt(r), target or "", verdict, r["command"], r["load"]))
    return r["value"]

# Peers on fleet's own job and on the 3-command job: fleet's wall below each.
fleet_wall = get("scan.default.fleet.wall_s")
for job, jobname in (("fleet", "fleet's job"), ("issue", "3-command job")):
    peers = sorted(k.split(".")[4] for k in rows if k.startswith("scan.default.peers.%s." % job) and k.endswith(".wall_s"))
    if not peers:
        lines.append(("scan: peers on %s" % jobname, "not measured (PEERS=1)", "", "", "", ""))
    for p in peers:
        k = "scan.default.peers.%s.%s.wall_s" % (job, p)
        # Done when: fleet below every peer on its own job, below parallel-ssh on the 3-command job.
        gate = job == "fleet" or p == "parallel-ssh"
        w = fleet_wall["value"] if fleet_wall else None
        item("scan: %s wall, %s" % (p, jobname), k, "> fleet's wall" if gate else "",
             (lambda v, w=w: w is not None and w < v) if gate else None)
item("scan: fleet wall (default farm)", "scan.default.fleet.wall_s")
item("scan: client CPU/node, default farm", "scan.default.fleet.cpu_ms_per_node")
item("scan: client CPU/node, 8 maps/node", "scan.maps8.fleet.cpu_ms_per_node", "<= 2.0 ms", lambda v: v <= 2.0)
item("scan: client CPU/node, 50 maps/node", "scan.maps50.fleet.cpu_ms_per_node", "<= 4.0 ms", lambda v: v <= 4.0)
for prof in ("default", "maps8", "maps50"):
    item("scan: peak RSS, %s farm" % prof, "scan.%s.fleet.rss_mib" % prof, "<= 150 MiB", lambda v: v <= 150)
three = get("scan.default.peers.issue.parallel-ssh.node_ms_per_node")
item("scan: node-side CPU/node, fleet", "scan.default.fleet.node_ms_per_node",
     "<= 3-command job's", (lambda v: v <= three["value"]) if three else None)
item("scan: node-side CPU/node, 3-command job (parallel-ssh)", "scan.default.peers.issue.parallel-ssh.node_ms_per_node")
item("history: 24 scans of an unchanged fleet add", "history.growth.add24_mb", "<= 10 MB", lambda v: v <= 10)
for k in order:
    if k.startswith("history.query.") and k.endswith(".median_ms"):
        item("history: " + k[len("history.query."):-len(".median_ms")].replace(".", " ", 1) + " (median)", k)
item("clean: peak RSS at 1,000 nodes", "clean.1000.rss_mib")
item("clean: peak RSS at 5,000 nodes", "clean.5000.rss_mib")

def table(title, header, body):
    print(title)
    widths = [max(len(str(x[i])) for x in [header] + body) for i in range(len(header))]
    for x in [header] + body:
        print("  ".join(str(c).ljust(w) for c, w in zip(x, widths)).rstrip())
    print()

table("== issue 17 Done when (README Measured)", ("item", "number", "target", "", "command", "load 1/5/15"), lines)
table("== every number recorded", ("key", "number", "command", "load 1/5/15"),
      [(k, fmt(rows[k]), rows[k]["command"], rows[k]["load"]) for k in order])
PY
