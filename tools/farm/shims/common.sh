# Sourced by every farm shim (POSIX sh; keep it cheap: no forks on the common path).
# H (tools/farm) is set by the shim. The node is found from FLEET_SYSROOT=DIR/nodes/<name>/root.
R=${FLEET_SYSROOT:-}
PY=/usr/bin/python3
if [ -z "$R" ]; then
    echo "farm shim: FLEET_SYSROOT is not set (run through the farm's sshd)" >&2
    exit 127
fi
N=${R%/root}
O=$N/out
# Settle pending `echo 1 > $R/sys/block/sdX/device/delete` writes first, as the kernel
# would have removed the disk at once.
for f in "$R"/sys/block/sd*/device/delete; do
    if [ -s "$f" ]; then
        $PY "$H/farmlib.py" settle "$N" || exit 1
        break
    fi
done
if [ -f "$N/fault-slow" ]; then
    read -r d < "$N/fault-slow"
    sleep "$d"
fi

# The sshd process of this session (nearest ancestor named sshd), or nothing.
sshd_ancestor() {
    p=$PPID
    while [ "$p" -gt 1 ] 2>/dev/null; do
        read -r c < "/proc/$p/comm" || return 1
        if [ "$c" = sshd ]; then echo "$p"; return 0; fi
        read -r l < "/proc/$p/stat" || return 1
        set -- ${l##*) }
        p=$2
    done
    return 1
}

# Never return while the client is connected; go away once its sshd session is gone, so a
# hung command does not outlive the farm.
hang() {
    s=$(sshd_ancestor) || s=
    i=0
    while [ "$i" -lt 3600 ]; do
        if [ -n "$s" ] && [ ! -e "/proc/$s" ]; then exit 137; fi
        sleep 1
        i=$((i + 1))
    done
    exit 137
}
