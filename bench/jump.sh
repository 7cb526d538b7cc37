#!/usr/bin/env bash
# Issue 16 benchmark (not a test): `fleet scan` of N farm nodes through one bastion at
# concurrency C, next to the direct scan of the same farm.
#   bench/jump.sh [N=1000] [C=200]
# The farm runs inside a network namespace this script creates (fleet-b-<pid>): its nodes
# on the namespace's own loopback, the bastion sshd (AllowTcpForwarding yes) on the
# namespace's end of a veth pair (10.251.200.2). "direct" runs fleet inside the namespace
# (`ip netns exec`); "jump" runs it outside, through the bastion, from an ssh_config file.
# Prints wall s and client CPU (user+sys of the fleet process, wait4 rusage) per node, and
# the load average. Needs root. FLEET_BIN skips the release build. Run under the test lock.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}; C=${2:-200}
NS=fleet-b-$$
WORK=$(mktemp -d /tmp/fleet-jump-bench.XXXXXX)
HV=fbh$$; PV=fbn$$
BASTION_PID=""
cleanup() {
    [ -n "$BASTION_PID" ] && kill "$BASTION_PID" 2>/dev/null
    python3 tools/farm/farm down --dir "$WORK/farm" >/dev/null 2>&1 || true
    ip link del "$HV" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
if [ -z "${FLEET_BIN:-}" ]; then
    swift build -c release --product fleet >&2
    FLEET_BIN="$(swift build -c release --show-bin-path)/fleet"
fi
ip netns add "$NS"
ip link add "$HV" type veth peer name "$PV"
ip link set "$PV" netns "$NS"
ip addr add 10.251.200.1/30 dev "$HV"; ip link set "$HV" up
ip netns exec "$NS" ip addr add 10.251.200.2/30 dev "$PV"
ip netns exec "$NS" ip link set "$PV" up
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" python3 tools/farm/farm up "$N" --dir "$WORK/farm" --base 127.0.104.20 --seed 1 \
    --mix residual=0.1,degraded=0.1 >&2
ssh-keygen -q -t ed25519 -N '' -f "$WORK/bastion_host" -C bench
echo "10.251.200.2 $(cut -d' ' -f1,2 "$WORK/bastion_host.pub")" > "$WORK/bastion_known_hosts"
cp "$WORK/farm/id_ed25519.pub" "$WORK/authorized_keys"; chmod 644 "$WORK/authorized_keys"
cat > "$WORK/sshd_config" <<CONF
Port 22
ListenAddress 10.251.200.2
HostKey $WORK/bastion_host
PidFile none
AuthorizedKeysFile $WORK/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
PermitRootLogin yes
AllowTcpForwarding yes
LogLevel ERROR
UseDNS no
MaxStartups 100
CONF
ip netns exec "$NS" /usr/sbin/sshd -D -e -f "$WORK/sshd_config" -E "$WORK/bastion.log" &
BASTION_PID=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/10.251.200.2/22) 2>/dev/null && break; sleep 0.05; done
cat > "$WORK/ssh_config" <<CONF
Host bastion
  HostName 10.251.200.2
  User root
  IdentityFile $WORK/farm/id_ed25519
  UserKnownHostsFile $WORK/bastion_known_hosts
Match originalhost node-*
  ProxyJump bastion
CONF
run() {  # label, then the command line
    local label=$1; shift
    python3 - "$label" "$N" "$@" <<'PY'
import os, subprocess, sys, time
label, n, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
t0 = time.monotonic()
p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, err = p.communicate()
wall = time.monotonic() - t0
# The only child this python reaped: fleet (`ip netns exec` execs it in place).
import resource
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = ru.ru_utime + ru.ru_stime
print(f"{label}: N={n} wall={wall:.1f}s client cpu={cpu:.2f}s cpu/node={cpu / n * 1000:.2f}ms "
      f"maxRSS={ru.ru_maxrss // 1024}MiB exit={p.returncode} load={os.getloadavg()[0]:.1f}")
PY
}
echo "== fleet scan, N=$N C=$C (load: $(cut -d' ' -f1-3 /proc/loadavg))"
run direct ip netns exec "$NS" "$FLEET_BIN" scan --inventory "$WORK/farm/inventory.yaml" --db "$WORK/direct.sqlite" \
    --ssh-config none --forks "$C"
run "jump (1 bastion)" "$FLEET_BIN" scan --inventory "$WORK/farm/inventory.yaml" --db "$WORK/jump.sqlite" \
    --ssh-config "$WORK/ssh_config" --forks "$C"
