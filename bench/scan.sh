#!/usr/bin/env bash
# Issue 8: `fleet scan` of an N-node simulated farm at concurrency C (release build).
#   bench/scan.sh [--peers] [--install] [--base ADDR] [--scenario FILE] [N=1000] [C=200]
# Prints wall s, client CPU s (user+sys of the fleet process alone, from wait4's rusage),
# client CPU ms/node, peak RSS (ru_maxrss), and the farm's node-side CPU over the same run;
# then the same for a second scan of the unchanged farm with the first one's history (two
# phases: phase 1 only on the nodes it allows, with how many nodes got which phase).
#
# --peers: then, on the same farm, runs the same discovery job with each established tool
# that is installed (--install installs the missing ones: Debian pssh, clustershell,
# ansible; PyPI parallel-ssh into a venv under ~/.cache) and `ssh | xargs -P C`, and prints
# their wall/CPU next to fleet's. --peer-job picks the job the peers run (one exec per node,
# as root, strict host-key checking against the farm's known_hosts and its key, concurrency
# C, outputs collected):
#   fleet  (default) fleet's own discovery script (`fleet scan --print-script`, written to a
#          file the farm's nodes can read) under `timeout -s KILL 60 sh FILE`: the same node-side
#          work as fleet's scan (fleet also probes the residual maps, the peers do not)
#   issue  issue 8's three commands: multipath -ll; ls -l "$FLEET_SYSROOT/sys/block/";
#          ls -l "$FLEET_SYSROOT/dev/disk/by-id/" (a lighter job than fleet's)
#   both   one round of peers with each
# (the farm's sshd sets FLEET_SYSROOT; on a real node it is empty). BENCH_PEERS=a,b runs only
# those peers (names as printed: parallel-ssh, pssh, clush, ansible, ssh|xargs). A peer's client CPU is the
# user+sys of its whole process tree (wait4 rusage of the top process includes every
# descendant it reaped). fleet also parses, classifies and writes SQLite; the peers only
# collect the text.
#
# Node-side CPU: every sshd the farm starts is a listener daemon (pid files in DIR/run);
# each connection's sshd, the user's shell, the discovery script and the shims are its
# descendants, and their CPU is added to the daemon's cutime+cstime as each is reaped. The
# bench reads /proc/<daemon>/stat (utime+stime+cutime+cstime) before and after each run;
# the difference is the node side of the run (it also includes the daemons' own accept work).
# Farm: BENCH_MIX (default residual=0.1,degraded=0.1: no down/silent/hung nodes, whose
# timeouts would measure the deadlines, not the throughput), or --scenario FILE (e.g.
# tools/farm/scenarios/maps8.yaml, maps50.yaml: 8 or 50 maps per node), addresses from
# --base or BENCH_BASE. FLEET_BIN skips the release build.
# Records scan.PROFILE.fleet.{wall_s,cpu_ms_per_node,rss_mib,node_ms_per_node} and, with
# --peers, scan.PROFILE.peers.JOB.PEER.{wall_s,cpu_ms_per_node,node_ms_per_node} (bench/record.sh;
# PROFILE: the scenario file's name without .yaml, else default).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/record.sh
export BENCH_COMMAND
PEERS=0
PEER_JOB=fleet
INSTALL=0
SCENARIO=
BASE=${BENCH_BASE:-127.0.2.1}
POS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --peers) PEERS=1 ;;
        --install) INSTALL=1 ;;
        --base) BASE=$2; shift ;;
        --base=*) BASE=${1#--base=} ;;
        --scenario) SCENARIO=$2; shift ;;
        --scenario=*) SCENARIO=${1#--scenario=} ;;
        --peer-job) PEER_JOB=$2; shift ;;
        --peer-job=*) PEER_JOB=${1#--peer-job=} ;;
        -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
        *) POS+=("$1") ;;
    esac
    shift
done
case "$PEER_JOB" in fleet|issue|both) ;; *) echo "bench/scan.sh: --peer-job fleet|issue|both" >&2; exit 64 ;; esac
N=${POS[0]:-1000}
C=${POS[1]:-200}
MIX=${BENCH_MIX:-residual=0.1,degraded=0.1}
VENV=${BENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/fleet-bench-venv}

if [ "$PEERS" = 1 ] && [ "$INSTALL" = 1 ]; then
    missing=()
    command -v parallel-ssh >/dev/null || missing+=(pssh)
    command -v clush >/dev/null || missing+=(clustershell)
    command -v ansible >/dev/null || missing+=(ansible)
    if [ ${#missing[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
    fi
    if ! "$VENV/bin/python" -c 'import pssh.clients' 2>/dev/null; then
        python3 -m venv "$VENV" >&2
        "$VENV/bin/pip" install -q parallel-ssh >&2
    fi
fi

if [ -z "${FLEET_BIN:-}" ]; then
    swift build -c release --product fleet >&2
    FLEET_BIN="$(swift build -c release --show-bin-path)/fleet"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-scan.XXXXXX")
trap 'tools/farm/farm down --dir "$WORK/farm" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
if [ -n "$SCENARIO" ]; then
    tools/farm/farm up "$N" --dir "$WORK/farm" --base "$BASE" --scenario "$SCENARIO" >&2
else
    tools/farm/farm up "$N" --dir "$WORK/farm" --base "$BASE" --seed 1 --mix "$MIX" >&2
fi
"$FLEET_BIN" scan --print-script > "$WORK/discovery.sh"
chmod 644 "$WORK/discovery.sh"; chmod 755 "$WORK"

PROFILE=$( [ -n "$SCENARIO" ] && basename "$SCENARIO" .yaml || echo default )
python3 - "$FLEET_BIN" "$WORK" "$N" "$C" "$PEERS" "$VENV" "$(pwd)/bench/pssh-driver.py" "$PEER_JOB" "$PROFILE" <<'PY'
import glob, json, os, shutil, subprocess, sys, time
fleet, work, n, c, peers, venv, driver = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6], sys.argv[7]
peer_job, profile = sys.argv[8], sys.argv[9]

def record(key, value, unit):
    # bench/record.sh's line format (bench/summary.sh reads it).
    path = os.environ.get("BENCH_SUMMARY")
    if not path:
        return
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    with open(path, "a") as f:
        f.write("%s\t%.3f\t%s\t%s\t%s\n" % ("scan.%s.%s" % (profile, key), value, unit, os.environ["BENCH_COMMAND"], load))
tick = os.sysconf("SC_CLK_TCK")
cores = os.cpu_count()
farm = os.path.join(work, "farm")

def daemons():
    pids = []
    for f in glob.glob(os.path.join(farm, "run", "*.pid")):
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

def in_child(code, *argv):
    # What needs a big file parsed (a scan's JSON report, farm.json) is computed in a child
    # Python, never in this process: a process's ru_maxrss includes the RSS of the process it
    # was forked from at exec, so every fleet scan or peer started after this process had
    # loaded the first scan's 28 MB report was reported at this process's ~190 MiB (the second
    # scan's "193.8 MiB" of earlier runs; issue 17).
    return json.loads(subprocess.run([sys.executable, "-c", "import json, sys\n" + code] + list(argv),
                                     capture_output=True, text=True, check=True).stdout)

def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])

def measure(args, stdout, env=None):
    # The load around each run goes with its wall time: the farm's nodes share these cores.
    load0 = loadavg()
    pids = daemons()
    before = node_cpu(pids)
    t0 = time.monotonic()
    proc = subprocess.Popen(args, stdout=stdout, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    time.sleep(0.5)  # let the daemons reap their last children
    node = node_cpu(pids) - before
    return dict(code=os.waitstatus_to_exitcode(status), wall=wall, user=ru.ru_utime, sys=ru.ru_stime,
                cpu=ru.ru_utime + ru.ru_stime, rss=ru.ru_maxrss / 1024, node=node,
                load="load %s -> %s" % (load0, loadavg()))

args = [fleet, "scan", "--inventory", os.path.join(farm, "inventory.yaml"),
        "--db", os.path.join(work, "history.sqlite"), "--forks", str(c), "--format", "json"]
r = measure(args, open(os.path.join(work, "scan.json"), "w"))
ok, total = in_child('d = json.load(open(sys.argv[1])); print(json.dumps([sum(1 for x in d["nodes"] if x["status"] == "ok"), '
                     'len(d["nodes"])]))', os.path.join(work, "scan.json"))
cpu, node, wall = r["cpu"], r["node"], r["wall"]
print("fleet scan: N=%d C=%d exit=%d nodes ok=%d/%d" % (n, c, r["code"], ok, total))
print("wall            %8.2f s" % wall)
print("client CPU      %8.2f s  (user %.2f + sys %.2f)" % (cpu, r["user"], r["sys"]))
print("client CPU/node %8.2f ms" % (cpu * 1000 / n))
print("peak RSS        %8.1f MiB" % r["rss"])
print("node-side CPU   %8.2f s  (%.1f ms/node; / %d cores = %.2f s)" % (node, node * 1000 / n, cores, node / cores))
print("wall / (node-side CPU / cores) = %.2f" % (wall / (node / cores) if node > 0 else float("nan")))
print(r["load"])
# The same scan again on the unchanged farm, with the first one's history: phase 1 only on
# nodes whose maps were all healthy and whose phase-1 reads are unchanged (issue #17).
r2 = measure(args, open(os.path.join(work, "scan2.json"), "w"))
phases = subprocess.run(["sqlite3", os.path.join(work, "history.sqlite"),
                         "SELECT phase, count(*) FROM node_runs WHERE run_id = 2 GROUP BY phase"],
                        capture_output=True, text=True).stdout.split()
print("fleet scan again (history from the first: two phases): exit=%d wall %.2f s, client CPU %.2f ms/node, "
      "peak RSS %.1f MiB, node-side CPU %.1f ms/node; node runs by phase: %s; %s"
      % (r2["code"], r2["wall"], r2["cpu"] * 1000 / n, r2["rss"], r2["node"] * 1000 / n, " ".join(phases) or "?", r2["load"]))
sys.stdout.flush()
record("fleet.wall_s", wall, "s")
record("fleet.cpu_ms_per_node", cpu * 1000 / n, "ms")
record("fleet.rss_mib", r["rss"], "MiB")
record("fleet.node_ms_per_node", node * 1000 / n, "ms")
if not peers:
    sys.exit(0)

# ---- peers: the same job on the same farm ----
key, kh = os.path.join(farm, "id_ed25519"), os.path.join(farm, "known_hosts")
hosts = in_child('print(json.dumps([x["address"] for x in json.load(open(sys.argv[1]))["nodes"]]))', os.path.join(farm, "farm.json"))
hostfile = os.path.join(work, "hosts")
open(hostfile, "w").write("".join(h + "\n" for h in hosts))
jobs = {"issue": 'multipath -ll; ls -l "$FLEET_SYSROOT/sys/block/"; ls -l "$FLEET_SYSROOT/dev/disk/by-id/"',
        "fleet": "timeout -s KILL 60 sh " + os.path.join(work, "discovery.sh")}
sshkv = ["BatchMode=yes", "StrictHostKeyChecking=yes", "UserKnownHostsFile=" + kh, "GlobalKnownHostsFile=/dev/null",
         "IdentitiesOnly=yes", "IdentityFile=" + key, "ConnectTimeout=30", "ControlMaster=no"]
sshopts = ["-F", "/dev/null"] + [x for o in sshkv for x in ("-o", o)] + ["-l", "root"]
out = lambda name: open(os.path.join(work, name + ".out"), "w")
rows = []

only = [x for x in os.environ.get("BENCH_PEERS", "").split(",") if x]

def peer(name, args, env=None, shell=False):
    if only and name not in only:
        return
    tool = args[0] if not shell else args[2].split()[0]
    if not shell and shutil.which(tool) is None and not os.path.exists(tool):
        print("%-14s not installed (bench/scan.sh --peers --install)" % name); return
    if shell and shutil.which("ssh") is None:
        print("%-14s not installed" % name); return
    r = measure(args, out(name), env)
    size = os.path.getsize(os.path.join(work, name + ".out"))
    r["name"], r["bytes"] = name, size
    rows.append(r)
    key = "peers.%s.%s." % (current_job, name.replace("|", "-"))
    record(key + "wall_s", r["wall"], "s")
    record(key + "cpu_ms_per_node", r["cpu"] * 1000 / n, "ms")
    record(key + "node_ms_per_node", r["node"] * 1000 / n, "ms")
    print("%-14s exit=%d wall %.2f s, CPU %.2f s (%.2f ms/node), RSS %.0f MiB, output %d KiB, node side %.1f ms/node; %s"
          % (name, r["code"], r["wall"], r["cpu"], r["cpu"] * 1000 / n, r["rss"], size // 1024, r["node"] * 1000 / n, r["load"]))
    sys.stdout.flush()

def round_of_peers(jobname, job):
    global current_job
    current_job = jobname
    rows.clear()
    print()
    print("peers running the %s job: %s" % (jobname, job))
    # PyPI parallel-ssh (libssh2 via ssh2-python), host keys checked by the driver.
    vpy = os.path.join(venv, "bin", "python")
    if os.path.exists(vpy) and subprocess.call([vpy, "-c", "import pssh.clients"], stderr=subprocess.DEVNULL) == 0:
        peer("parallel-ssh", [vpy, driver, hostfile, key, kh, str(c), job])
    else:
        print("%-14s not installed (bench/scan.sh --peers --install)" % "parallel-ssh")
    # Debian pssh
    pssh_out = os.path.join(work, "pssh-out")
    peer("pssh", ["parallel-ssh", "-h", hostfile, "-p", str(c), "-t", "60", "-l", "root", "-o", pssh_out]
         + [x for o in sshkv for x in ("-O", o)]
         + ["-x", "-F /dev/null", job])
    # clustershell
    peer("clush", ["clush", "--hostfile", hostfile, "-f", str(c), "-l", "root", "-t", "30", "-u", "60",
                   "-o", " ".join(sshopts[:-2]), job])
    # ansible ad hoc, raw module (no python on the node side), no ControlPersist masters
    aenv = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_SSH_ARGS="-o ControlMaster=no",
                ANSIBLE_HOME=os.path.join(work, "ansible"), ANSIBLE_LOCAL_TEMP=os.path.join(work, "ansible", "tmp"),
                ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="True")
    inv = os.path.join(work, "ansible.ini")
    open(inv, "w").write("[farm]\n" + "".join(h + "\n" for h in hosts) + "[farm:vars]\nansible_user=root\n"
                         "ansible_ssh_private_key_file=%s\nansible_ssh_common_args='-F /dev/null -o BatchMode=yes "
                         "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null "
                         "-o IdentitiesOnly=yes'\n" % (key, kh))
    peer("ansible", ["ansible", "all", "-i", inv, "-m", "raw", "-a", job, "-f", str(c), "-o"], env=aenv)
    # ssh | xargs -P C
    sshcmd = " ".join("'%s'" % o for o in sshopts)
    peer("ssh|xargs", ["sh", "-c", "xargs -P %d -I{} ssh %s {} %s < %s"
                       % (c, sshcmd, "'" + job.replace("'", "'\\''") + "'", hostfile)], shell=True)

    print()
    print("same farm, N=%d C=%d, peers on the %s job: fleet wall %.2f s, CPU %.2f ms/node (scan again, two phases: wall %.2f s, "
          "node side %.1f ms/node)" % (n, c, jobname, wall, cpu * 1000 / n, r2["wall"], r2["node"] * 1000 / n))
    print("%-14s %8s %8s %9s %12s %12s" % ("peer", "wall s", "CPU s", "ms/node", "fleet/peer wall", "fleet/peer CPU"))
    for r in rows:
        print("%-14s %8.2f %8.2f %9.2f %15.3f %14.3f" % (r["name"], r["wall"], r["cpu"], r["cpu"] * 1000 / n,
                                                        wall / r["wall"], cpu / r["cpu"] if r["cpu"] else float("nan")))

for jobname in (["fleet", "issue"] if peer_job == "both" else [peer_job]):
    round_of_peers(jobname, jobs[jobname])
PY
