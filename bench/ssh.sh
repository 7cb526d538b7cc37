#!/usr/bin/env bash
# SSH transport benchmark (not a test): N sessions + one command each at concurrency C
# against one local OpenSSH sshd, by fleet's SSHExecutor (bench/ssh-bench) and by OpenSSH
# `ssh` through `xargs -P C`, on the same server. Usage: bench/ssh.sh [N] [C] [--no-ssh]
# Records ssh.fleet.{wall_s,cpu_ms_per_node,rss_mib} and ssh.openssh.{wall_s,cpu_ms_per_node}
# (bench/record.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/record.sh
N=${1:-1000}; C=${2:-200}; PEER=${3:-}
ADDR=${FLEET_BENCH_ADDR:-127.0.7.1}
SCRATCH=${FLEET_BENCH_SCRATCH:-.build-ssh-release}
WORK=$(mktemp -d /tmp/fleet-ssh-bench.XXXXXX)
# Log in as a throwaway user whose shell is /bin/sh: root's rc files on a dev box (pyenv
# init, …) would make every login slow and serialised, measuring the box, not SSH.
BUSER=${FLEET_BENCH_USER:-fleetsshtest}
if [ "$BUSER" != root ] && ! id "$BUSER" >/dev/null 2>&1; then useradd -m -s /bin/sh "$BUSER"; fi
[ "$BUSER" != root ] && usermod -p '*' "$BUSER"   # sshd with UsePAM no refuses locked ("!") accounts
chmod 755 "$WORK"
SSHD_PID=""
cleanup() { [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

swift build -c release --scratch-path "$SCRATCH" --product fleet-ssh-bench >&2
BIN="$SCRATCH/release/fleet-ssh-bench"

ssh-keygen -q -t ed25519 -N '' -f "$WORK/host" -C bench
ssh-keygen -q -t ed25519 -N '' -f "$WORK/client" -C bench
cp "$WORK/client.pub" "$WORK/authorized_keys"; chmod 644 "$WORK/authorized_keys"
PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('$ADDR',0)); print(s.getsockname()[1])")
echo "[$ADDR]:$PORT $(cut -d' ' -f1,2 "$WORK/host.pub")" > "$WORK/known_hosts"
cat > "$WORK/sshd_config" <<CONF
Port $PORT
ListenAddress $ADDR
HostKey $WORK/host
PidFile none
AuthorizedKeysFile $WORK/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
LogLevel ERROR
UseDNS no
MaxStartups 4000
MaxSessions 100
CONF
/usr/sbin/sshd -D -e -f "$WORK/sshd_config" -E "$WORK/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null && break; sleep 0.05; done
# Node-side CPU: the listener's utime+stime+cutime+cstime (every session process is reaped up
# that chain), in clock ticks.
TCK=$(getconf CLK_TCK)
sshd_cpu() { awk -v t="$TCK" '{ printf "%.2f", ($14+$15+$16+$17)/t }' "/proc/$SSHD_PID/stat"; }

S0=$(sshd_cpu)
echo "== fleet (SSHExecutor, ${FLEET_SSH_THREADS:-2} event-loop threads): N=$N C=$C against $ADDR:$PORT"
FLEET_BENCH_USER=$BUSER /usr/bin/time -f "   (time: wall %es user %Us sys %Ss maxRSS %MKiB)" "$BIN" "$ADDR" "$PORT" "$WORK/client" "$WORK/known_hosts" "$N" "$C" "echo ok" | tee "$WORK/fleet.out"
line=$(grep '^fleet-ssh-bench:' "$WORK/fleet.out" || true)
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$line"; }
[ -z "$line" ] || { bench_record ssh.fleet.wall_s "$(field wall)" s; bench_record ssh.fleet.cpu_ms_per_node "$(field cpu\/node)" ms
                    bench_record ssh.fleet.rss_mib "$(field peakRSS)" MiB; }
S1=$(sshd_cpu)
echo "   node side (sshd + sessions): cpu=$(awk -v a="$S1" -v b="$S0" 'BEGIN{printf "%.2f", a-b}')s on $(nproc) cores"

if [ "$PEER" != "--no-ssh" ]; then
  echo "== OpenSSH ssh via xargs -P $C: N=$N (StrictHostKeyChecking yes, same server)"
  /usr/bin/time -o "$WORK/ssh.time" -f "%e %U %S" bash -c "seq $N | xargs -P $C -I{} ssh -q -o BatchMode=yes -o StrictHostKeyChecking=yes \
      -o UserKnownHostsFile=$WORK/known_hosts -o IdentitiesOnly=yes -o IdentityAgent=none -i $WORK/client \
      -p $PORT $BUSER@$ADDR 'echo ok' > $WORK/ssh.out 2>&1 || true"
  read -r wall user sys < "$WORK/ssh.time"
  echo "   wall=${wall}s cpu=user ${user}s + sys ${sys}s (all ssh processes)"
  bench_record ssh.openssh.wall_s "$wall" s
  bench_record ssh.openssh.cpu_ms_per_node "$(awk -v u="$user" -v s="$sys" -v n="$N" 'BEGIN { printf "%.2f", (u + s) * 1000 / n }')" ms
  echo "   ok=$(grep -c '^ok$' "$WORK/ssh.out") of $N"
  echo "   node side (sshd + sessions): cpu=$(awk -v a="$(sshd_cpu)" -v b="$S1" 'BEGIN{printf "%.2f", a-b}')s"
fi
