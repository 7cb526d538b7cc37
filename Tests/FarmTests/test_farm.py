"""The farm checked over real SSH: every state transition and every fault, and its renderings
byte for byte against the real captures in fixtures/real.

Run: python3 -m pytest -q Tests/FarmTests   (uses 127.0.9.x, port 22; needs root for sshd)
"""
import importlib.machinery
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FARM = os.path.join(REPO, "tools", "farm", "farm")
FIXTURES = os.environ.get("FLEET_FIXTURES") or os.path.join(REPO, "fixtures", "real")
sys.path.insert(0, os.path.join(REPO, "tools", "farm"))
import farmlib  # noqa: E402

BASE = "127.0.9.1"

SCENARIO = """
seed: 42
nodes:
  - {name: trans, maps: [healthy, residual, residual-hung, residual-hung]}
  - {name: inuse, maps: [in-use, healthy]}
  - {name: mixed, maps: [degraded, path-loss, in-use-holder, needs-review]}
  - {name: recover, maps: [residual]}
  - {name: delete, maps: [residual, healthy]}
  - {name: down, maps: [healthy], faults: [down]}
  - {name: silent, maps: [healthy], faults: [silent]}
  - {name: slow, maps: [healthy], faults: [slow], slow_seconds: 30}
  - {name: hung, maps: [healthy], faults: [hung]}
  - {name: hostkey, maps: [healthy], faults: [wrong-hostkey]}
  - {name: authfail, maps: [healthy], faults: [auth-refused]}
  - {name: garbage, maps: [healthy], faults: [garbage]}
  - {name: huge, maps: [healthy, residual], faults: [huge]}
  - {name: drop, maps: [residual, healthy], faults: [drop]}
  - {name: reuse, maps: [residual, healthy]}
  - {name: rawblock, maps: [in-use-block, residual, {kind: residual, block_publish: [/var/lib/kubelet/x y]}]}
"""


def run_farm(*args, check=True):
    p = subprocess.run(["/usr/bin/python3", FARM] + list(args), capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError("farm %s failed: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("farm"))
    sc = os.path.join(d, "scenario.yaml")
    with open(sc, "w") as f:
        f.write(SCENARIO)
    run_farm("up", "--scenario", sc, "--dir", d, "--base", BASE)
    try:
        with open(os.path.join(d, "farm.json")) as f:
            info = json.load(f)
        yield Farm(d, info)
    finally:
        run_farm("down", "--dir", d, check=False)


class Farm:
    def __init__(self, d, info):
        self.dir = d
        self.info = info
        self.nodes = {n["name"]: n for n in info["nodes"]}

    def addr(self, name):
        return self.nodes[name]["address"]

    def ssh(self, name, cmd, stdin=None, timeout=60, extra=()):
        argv = ["ssh", "-i", os.path.join(self.dir, "id_ed25519"),
                "-o", "UserKnownHostsFile=" + os.path.join(self.dir, "known_hosts"),
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                *extra, "root@" + self.addr(name), cmd]
        return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)

    def out(self, name, cmd):
        p = self.ssh(name, cmd)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def wwid(self, name, kind):
        return [m["wwid"] for m in self.nodes[name]["maps"] if m["kind"] == kind][0]

    def map(self, name, kind, nth=0):
        return [m for m in self.nodes[name]["maps"] if m["kind"] == kind][nth]

    def state(self, name):
        return json.loads(run_farm("state", name, "--dir", self.dir).stdout)


def ll_block(text, wwid):
    """The lines of one map in `multipath -ll` output."""
    lines = text.splitlines()
    for i, l in enumerate(lines):
        if "(%s)" % wwid in l:
            j = i + 1
            while j < len(lines) and not re.match(r"^\S+ \(\w+\) dm-\d+ ", lines[j]):
                j += 1
            return lines[i:j]
    return []


# ---------------------------------------------------------------- written files

def test_inventory_known_hosts_and_ground_truth(farm):
    inv = open(os.path.join(farm.dir, "inventory.yaml")).read()
    import yaml
    y = yaml.safe_load(inv)
    assert y["defaults"]["user"] == "root"
    assert y["defaults"]["identity_file"] == os.path.join(farm.dir, "id_ed25519")
    assert y["groups"]["farm"]["labels"] == {"role": "worker"}
    assert [n["address"] for n in y["groups"]["farm"]["nodes"]][:3] == ["127.0.9.1", "127.0.9.2", "127.0.9.3"]
    kh = open(os.path.join(farm.dir, "known_hosts")).read().splitlines()
    assert len(kh) == len(farm.nodes)
    assert all(re.match(r"^127\.0\.9\.\d+ ssh-ed25519 \S+$", l) for l in kh)
    assert farm.nodes["trans"]["expected"] == {
        m["wwid"]: {"healthy": "healthy", "residual": "residual", "residual-hung": "residual-hung"}[m["kind"]]
        for m in farm.nodes["trans"]["maps"]}
    mixed = {m["kind"]: m["verdict"] for m in farm.nodes["mixed"]["maps"]}
    assert mixed == {"degraded": "degraded", "path-loss": "path-loss", "in-use-holder": "in-use",
                     "needs-review": "needs-review"}
    assert farm.nodes["down"]["faults"] == ["down"]


def test_addresses_skip_0_and_255():
    spec = importlib.util.spec_from_loader("farmcli", importlib.machinery.SourceFileLoader("farmcli", FARM))
    farmcli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(farmcli)
    a = farmcli.addresses("127.0.1.250", 10)
    assert "127.0.1.255" not in a and "127.0.2.0" not in a
    assert a[:6] == ["127.0.1.250", "127.0.1.251", "127.0.1.252", "127.0.1.253", "127.0.1.254", "127.0.2.1"]


def test_generator_is_deterministic_and_follows_the_mix():
    spec = importlib.util.spec_from_loader("farmcli2", importlib.machinery.SourceFileLoader("farmcli2", FARM))
    farmcli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(farmcli)
    mix = "residual=0.2,hung=0.1,down=0.05"
    a, b, c = farmcli.generate(400, 5, mix), farmcli.generate(400, 5, mix), farmcli.generate(400, 6, mix)
    assert a == b and a != c
    residual = sum("residual" in s["maps"] for s in a)
    hung = sum("residual-hung" in s["maps"] for s in a)
    down = sum("down" in s["faults"] for s in a)
    assert 50 <= residual <= 110 and 20 <= hung <= 60 and 5 <= down <= 40
    assert not any("degraded" in s["maps"] for s in a)


# ---------------------------------------------------------------- discovery sees a residual map

def test_residual_map_looks_residual_to_every_discovery_command(farm):
    m = farm.map("delete", "residual")
    wwid, dm, name = m["wwid"], m["dm"], m["name"]
    rc, out, err = farm.out("delete", "multipath -ll")
    block = ll_block(out, wwid)
    assert block[0].startswith("%s (%s) %s LIO-ORG," % (name, wwid, dm))
    assert "features='0'" in block[1]
    assert "prio=0 status=active" in block[2]
    assert [l.split()[-3:] for l in block[3:]] == [["failed", "faulty", "running"]] * 2
    disks = [l.split()[2] for l in block[3:]]
    assert re.search(r"^\d+\.\d{6} \| %s: prio = const \(setting: emergency fallback - alua failed\)$" % disks[0], err, re.M)
    maps = json.loads(farm.out("delete", "multipathd show maps json")[1])["maps"]
    jm = [x for x in maps if x["uuid"] == wwid][0]
    assert (jm["queueing"], jm["paths"], jm["features"], jm["sysfs"]) == ("off", 0, "0", dm)
    assert [p["dm_st"] for g in jm["path_groups"] for p in g["paths"]] == ["failed", "failed"]
    info = farm.out("delete", "dmsetup info -c")[1]
    assert re.search(r"^%s +253 +%s L--w +0 +1 +\d+ mpath-%s$" % (name, dm[3:], wwid), info, re.M)
    status = [l for l in farm.out("delete", "dmsetup status")[1].splitlines() if l.startswith(name + ":")][0]
    assert status.count(" F 1 0 1") == 2
    R = farm.nodes["delete"]
    rc, lsblk, _ = farm.out("delete", "lsblk -J -o NAME,KNAME,TYPE,SIZE,WWN,HCTL,STATE,MOUNTPOINT,PKNAME")
    devs = json.loads(lsblk)["blockdevices"]
    assert sorted(d["name"] for d in devs if d.get("children", [{}])[0].get("kname") == dm) == sorted(disks)
    sysblock = farm.out("delete", 'ls -l "$FLEET_SYSROOT/sys/block/"')[1]
    assert re.search(r" %s -> \.\./devices/virtual/block/%s$" % (dm, dm), sysblock, re.M)
    for d in disks:
        assert re.search(r" %s -> \.\./devices/platform/host\d+/session\d+/target\d+:0:0/\d+:0:0:\d+/block/%s$" % (d, d), sysblock, re.M)
        assert farm.out("delete", 'cat "$FLEET_SYSROOT/sys/block/%s/device/state"' % d)[1] == "running\n"
    byid = farm.out("delete", 'ls -l "$FLEET_SYSROOT/dev/disk/by-id/"')[1]
    assert re.search(r" dm-uuid-mpath-%s -> \.\./\.\./%s$" % (wwid, dm), byid, re.M)
    assert re.search(r" wwn-0x%s -> \.\./\.\./%s$" % (wwid[1:], dm), byid, re.M)
    sh = farm.out("delete", 'ls "$FLEET_SYSROOT/sys/block/%s/slaves" "$FLEET_SYSROOT/sys/block/%s/holders"' % (dm, dm))[1]
    assert sh.endswith("/sys/block/%s/slaves:\n%s\n" % (dm, "\n".join(sorted(disks))))
    assert "/holders:\n\n" in sh
    assert farm.out("delete", 'cat "$FLEET_SYSROOT/sys/block/%s/dm/name" "$FLEET_SYSROOT/sys/block/%s/dm/uuid"' % (dm, dm))[1] == \
        "%s\nmpath-%s\n" % (name, wwid)
    assert name not in farm.out("delete", 'cat "$FLEET_SYSROOT/proc/mounts"')[1]
    p = farm.ssh("delete", 'timeout -s KILL 5 dd if="$FLEET_SYSROOT/dev/%s" of=/dev/null count=1 bs=1M iflag=direct' % dm)
    assert p.returncode == 1
    assert re.match(r"dd: error reading '/\S+/dev/%s': Input/output error\n0\+0 records in\n" % dm, p.stderr.decode())


def test_flush_then_delete_removes_map_disks_and_links(farm):
    m = farm.map("delete", "residual")
    wwid, dm, name = m["wwid"], m["dm"], m["name"]
    disks = [l.split()[2] for l in ll_block(farm.out("delete", "multipath -ll")[1], wwid)[3:]]
    rc, out, err = farm.out("delete", "multipath -f %s" % name)
    assert (rc, out, err) == (0, "", "")
    assert wwid not in farm.out("delete", "multipath -ll")[1]
    assert name not in farm.out("delete", "dmsetup info -c")[1]
    sysblock = farm.out("delete", 'ls "$FLEET_SYSROOT/sys/block/"')[1].split()
    assert dm not in sysblock and all(d in sysblock for d in disks)  # the disks outlive the map
    assert "dm-name-" + name not in farm.out("delete", 'ls "$FLEET_SYSROOT/dev/disk/by-id/"')[1]
    for d in disks:
        rc, _, _ = farm.out("delete", 'echo 1 > "$FLEET_SYSROOT/sys/block/%s/device/delete"' % d)
        assert rc == 0
    sysblock = farm.out("delete", 'ls "$FLEET_SYSROOT/sys/block/"')[1].split()
    assert not any(d in sysblock for d in disks)
    byid = farm.out("delete", 'ls -l "$FLEET_SYSROOT/dev/disk/by-id/"')[1]
    assert not any(l.endswith("../../" + d) for d in disks for l in byid.splitlines())
    assert wwid[1:] not in byid
    devs = [d["name"] for d in json.loads(farm.out("delete", "lsblk -J -o NAME,KNAME,TYPE,SIZE,WWN,HCTL,STATE,MOUNTPOINT,PKNAME")[1])["blockdevices"]]
    assert not set(disks) & set(devs) and devs  # the healthy map's disks stay
    rc, _, err = farm.out("delete", 'echo 1 > "$FLEET_SYSROOT/sys/block/%s/device/delete"' % disks[0])
    assert rc != 0 and "No such file or directory" in err
    assert wwid not in farm.state("delete")["expected"]


# ---------------------------------------------------------------- dd: EIO vs hang, ghosts, queueing off

def test_queueing_map_hangs_leaves_a_ghost_until_queueing_is_disabled(farm):
    hung = farm.map("trans", "residual-hung", 0)
    res = farm.map("trans", "residual")
    dd = 'timeout -s KILL 2 dd if="$FLEET_SYSROOT/dev/%s" of=/dev/null count=1 bs=1M iflag=direct; echo rc=$?'
    assert "rc=1" in farm.out("trans", dd % res["dm"])[1]
    assert "rc=137" in farm.out("trans", dd % hung["dm"])[1]
    ps = farm.out("trans", "ps -eo pid,ppid,stat,wchan:32,etime,cmd")[1].splitlines()
    assert re.match(r"^ +PID +PPID STAT WCHAN +ELAPSED CMD$", ps[0])
    ghosts = [l for l in ps if "/dev/%s of=/dev/null" % hung["dm"] in l]
    assert len(ghosts) == 1
    f = ghosts[0].split()
    assert int(f[0]) > 4194304 and f[1:4] == ["1", "D", "submit_bio_wait"] and f[5] == "dd"
    info = farm.out("trans", "dmsetup info -c")[1]
    assert re.search(r"^%s +253 +\d+ L--w +1 " % hung["name"], info, re.M)
    rc, out, err = farm.out("trans", "multipath -f %s" % hung["name"])
    assert rc == 1 and re.fullmatch(r"\d+\.\d{6} \| %s: map in use\n" % hung["name"], err)
    # kill -9 of a D-state dd: accepted, yet the process stays (fleet's scripts run under sh -s)
    p = farm.ssh("trans", "timeout -s KILL 20 sh -s", stdin=("kill -9 %s; echo kill=$?\n" % f[0]).encode())
    assert "kill=0" in p.stdout.decode()
    assert f[0] in farm.out("trans", "ps -eo pid,ppid,stat,wchan:32,etime,cmd")[1]
    rc, out, err = farm.out("trans", "dmsetup message %s 0 fail_if_no_path" % hung["name"])
    assert (rc, out) == (0, "")
    assert f[0] not in farm.out("trans", "ps -eo pid,ppid,stat,wchan:32,etime,cmd")[1]
    block = ll_block(farm.out("trans", "multipath -ll")[1], hung["wwid"])
    assert "features='0'" in block[1] and "status=enabled" in block[2]
    assert "rc=1" in farm.out("trans", dd % hung["dm"])[1]
    assert farm.out("trans", "multipath -f %s" % hung["name"])[0] == 0


def test_disablequeueing_frees_a_probe_that_is_still_waiting(farm):
    hung = farm.map("trans", "residual-hung", 1)
    probe = subprocess.Popen(
        ["ssh", "-i", os.path.join(farm.dir, "id_ed25519"), "-o", "UserKnownHostsFile=" + os.path.join(farm.dir, "known_hosts"),
         "-o", "BatchMode=yes", "root@" + farm.addr("trans"),
         'timeout -s KILL 60 dd if="$FLEET_SYSROOT/dev/%s" of=/dev/null count=1 bs=1M iflag=direct; echo rc=$?' % hung["dm"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(200):  # wait until the ghost is recorded (poll, no timing assumption)
        if "/dev/%s of" % hung["dm"] in farm.out("trans", "ps -eo pid,ppid,stat,wchan:32,etime,cmd")[1]:
            break
    rc, out, _ = farm.out("trans", "multipathd disablequeueing map %s" % hung["name"])
    assert (rc, out) == (0, "ok\n")
    o, e = probe.communicate(timeout=60)
    assert b"rc=1" in o and b"Input/output error" in e
    assert "/dev/%s of" % hung["dm"] not in farm.out("trans", "ps -eo pid,ppid,stat,wchan:32,etime,cmd")[1]


def test_in_use_map_is_refused(farm):
    m = farm.map("inuse", "in-use")
    mounts = farm.out("inuse", 'cat "$FLEET_SYSROOT/proc/mounts"')[1]
    assert len([l for l in mounts.splitlines() if l.startswith("/dev/mapper/%s " % m["name"])]) == 2  # + bind mount
    devs = json.loads(farm.out("inuse", "lsblk -J -o NAME,KNAME,TYPE,SIZE,WWN,HCTL,STATE,MOUNTPOINT,PKNAME")[1])["blockdevices"]
    mp = {c["mountpoint"] for d in devs for c in d.get("children", []) if c["kname"] == m["dm"]}
    assert len(mp) == 1 and mp.pop().startswith("/var/lib/kubelet/")
    rc, out, err = farm.out("inuse", "multipath -f %s" % m["name"])
    assert rc == 1 and err.endswith("| %s: map in use\n" % m["name"])
    assert m["wwid"] in farm.out("inuse", "multipath -ll")[1]
    farm_set = run_farm("set", "inuse", "unmount", m["wwid"], "--dir", farm.dir)
    assert json.loads(farm_set.stdout)[m["wwid"]] == "residual"
    assert farm.out("inuse", "multipath -f %s" % m["name"])[0] == 0


def mountinfo_binds(text):
    """(root, mount point) of each devtmpfs mount in mountinfo text (proc(5) fields)."""
    out = []
    for line in text.splitlines():
        f = line.split(" ")
        sep = f.index("-", 6)
        if f[sep + 1] == "devtmpfs":
            out.append((f[3], f[4].replace("\\040", " ")))
    return out


def test_raw_block_publish_is_a_devtmpfs_bind_in_mountinfo(farm):
    block = farm.map("rawblock", "in-use-block")
    plain, scenario = farm.map("rawblock", "residual", 0), farm.map("rawblock", "residual", 1)
    info = farm.out("rawblock", 'cat "$FLEET_SYSROOT/proc/self/mountinfo"')[1]
    binds = mountinfo_binds(info)
    assert ("/", "/dev") in binds
    published = [p for r, p in binds if r == "/" + block["dm"]]
    assert len(published) == 2 and any("/volumeDevices/publish/" in p for p in published)
    assert ("/" + scenario["dm"], "/var/lib/kubelet/x y") in binds  # scenario key, escaped space decoded
    assert not any(r == "/" + plain["dm"] for r, _ in binds)
    # /proc/mounts shows only udev on the path: nothing there names the map.
    mounts = farm.out("rawblock", 'cat "$FLEET_SYSROOT/proc/mounts"')[1]
    assert "udev %s devtmpfs " % published[0] in mounts and block["name"] not in mounts
    # A bind does not open the map: the open count stays 0 (the kernel would let multipath -f go).
    info_c = farm.out("rawblock", "dmsetup info -c")[1]
    assert re.search(r"^%s\s+253\s+%s\s+L--w\s+0\s" % (block["name"], block["dm"][3:]), info_c, re.M), info_c
    assert farm.state("rawblock")["expected"] == {block["wwid"]: "in-use", plain["wwid"]: "residual",
                                                  scenario["wwid"]: "in-use"}
    # publish-block / unpublish-block
    after = json.loads(run_farm("set", "rawblock", "publish-block", plain["wwid"], "/var/lib/kubelet/p", "--dir", farm.dir).stdout)
    assert after[plain["wwid"]] == "in-use"
    assert ("/" + plain["dm"], "/var/lib/kubelet/p") in mountinfo_binds(farm.out("rawblock", 'cat "$FLEET_SYSROOT/proc/self/mountinfo"')[1])
    after = json.loads(run_farm("set", "rawblock", "unpublish-block", plain["wwid"], "--dir", farm.dir).stdout)
    assert after[plain["wwid"]] == "residual"
    assert not any(r == "/" + plain["dm"] for r, _ in mountinfo_binds(farm.out("rawblock", 'cat "$FLEET_SYSROOT/proc/self/mountinfo"')[1]))


def test_holder_and_path_loss_views(farm):
    holder = farm.map("mixed", "in-use-holder")
    out = farm.out("mixed", 'ls "$FLEET_SYSROOT/sys/block/%s/holders"' % holder["dm"])[1].split()
    assert out == ["dm-102"]
    assert farm.out("mixed", "multipath -f %s" % holder["name"])[0] == 1
    pl = farm.map("mixed", "path-loss")
    disks = [l.split()[2] for l in ll_block(farm.out("mixed", "multipath -ll")[1], pl["wwid"])[3:]]
    assert disks and all(l.endswith("failed faulty running") for l in ll_block(farm.out("mixed", "multipath -ll")[1], pl["wwid"])[3:])
    for d in disks:  # dev_st says running; sysfs tells the truth (fixtures/real/portal-down-*)
        assert farm.out("mixed", 'cat "$FLEET_SYSROOT/sys/block/%s/device/state"' % d)[1] == "transport-offline\n"
    review = farm.map("mixed", "needs-review")
    p = farm.ssh("mixed", 'timeout -s KILL 5 dd if="$FLEET_SYSROOT/dev/%s" of=/dev/null count=1 bs=1M iflag=direct' % review["dm"])
    assert p.returncode == 0 and p.stderr.decode().startswith("1+0 records in\n")
    deg = farm.map("mixed", "degraded")
    states = [l.split()[-3] for l in ll_block(farm.out("mixed", "multipath -ll")[1], deg["wwid"])[3:]]
    assert sorted(states) == ["active", "failed"]


def test_recover_paths_brings_a_residual_map_back(farm):
    wwid = farm.wwid("recover", "residual")
    dm = farm.map("recover", "residual")["dm"]
    exp = json.loads(run_farm("set", "recover", "recover-paths", wwid, "--dir", farm.dir).stdout)
    assert exp == {wwid: "healthy"}
    block = ll_block(farm.out("recover", "multipath -ll")[1], wwid)
    assert all(l.endswith("active ready running") for l in block[3:]) and "prio=50" in block[2]
    p = farm.ssh("recover", 'timeout -s KILL 5 dd if="$FLEET_SYSROOT/dev/%s" of=/dev/null count=1 bs=1M iflag=direct' % dm)
    assert p.returncode == 0
    run_farm("set", "recover", "fail-paths", wwid, "queueing", wwid, "off", "--dir", farm.dir)
    assert farm.state("recover")["expected"] == {wwid: "residual"}


def test_reuse_dm_changes_what_is_behind_the_name(farm):
    m = farm.map("reuse", "residual")
    run_farm("set", "reuse", "reuse-dm", m["wwid"], "--dir", farm.dir)
    out = farm.out("reuse", "multipath -ll")[1]
    assert m["wwid"] not in out
    line = [l for l in out.splitlines() if l.startswith(m["name"] + " ")][0]
    assert line.split()[2] == m["dm"] and "active ready running" in out


# ---------------------------------------------------------------- faults

def test_down_node_refuses_connections(farm):
    p = farm.ssh("down", "true")
    assert p.returncode == 255 and b"Connection refused" in p.stderr


def test_silent_node_accepts_but_never_speaks(farm):
    s = socket.create_connection((farm.addr("silent"), 22), timeout=5)
    s.settimeout(2)
    with pytest.raises(socket.timeout):
        s.recv(100)
    s.close()
    s = socket.create_connection((farm.addr("trans"), 22), timeout=5)
    s.settimeout(10)
    assert s.recv(100).startswith(b"SSH-2.0-")
    s.close()


def test_slow_and_hung_commands(farm):
    # node-side limits far below the fault's delay: the shim is still sleeping when killed
    assert "rc=124" in farm.out("slow", "timeout 2 multipath -ll; echo rc=$?")[1]
    assert "rc=124" in farm.out("hung", "timeout 2 multipath -ll; echo rc=$?")[1]
    assert "rc=0" in farm.out("hung", "dmsetup info -c >/dev/null; echo rc=$?")[1]


def test_wrong_host_key_and_refused_auth(farm):
    p = farm.ssh("hostkey", "true")
    assert p.returncode == 255 and b"REMOTE HOST IDENTIFICATION HAS CHANGED" in p.stderr
    p = farm.ssh("authfail", "true")
    assert p.returncode == 255 and b"Permission denied (publickey)" in p.stderr


def test_garbage_and_huge_output(farm):
    p = farm.ssh("garbage", "multipath -ll")
    assert p.returncode == 0 and p.stdout and not re.search(rb"^\S+ \(3\w+\) dm-\d+ ", p.stdout, re.M)
    p = farm.ssh("huge", "multipath -ll | wc -c; multipath -ll | head -c 200")
    size, head = p.stdout.split(b"\n", 1)
    assert int(size) >= 20 * 1024 * 1024 and head.startswith(b"mpath")


def test_drop_loses_the_reply_not_the_change(farm):
    m = farm.map("drop", "residual")
    p = farm.ssh("drop", "multipath -f %s; echo after" % m["name"])
    assert p.returncode == 255 and b"after" not in p.stdout
    assert m["wwid"] not in farm.out("drop", "multipath -ll")[1]  # only -f drops the session
    assert m["wwid"] not in farm.state("drop")["expected"]


# ---------------------------------------------------------------- down stops only what up started

def test_generated_farm_on_another_port_then_down_stops_its_daemons(tmp_path):
    d = str(tmp_path)
    run_farm("up", "3", "--seed", "1", "--mix", "residual=1", "--dir", d, "--base", "127.0.9.101", "--port", "2222")
    try:
        info = json.load(open(os.path.join(d, "farm.json")))
        assert [n["address"] for n in info["nodes"]] == ["127.0.9.101", "127.0.9.102", "127.0.9.103"]
        assert all(n["port"] == 2222 and "residual" in n["expected"].values() for n in info["nodes"])
        kh = open(os.path.join(d, "known_hosts")).read().splitlines()
        assert [l.split()[0] for l in kh] == ["[127.0.9.101]:2222", "[127.0.9.102]:2222", "[127.0.9.103]:2222"]
        assert "  port: 2222\n" in open(os.path.join(d, "inventory.yaml")).read()
        f = Farm(d, info)
        p = f.ssh("node-0002", "multipath -ll", extra=("-p", "2222"))
        assert p.returncode == 0 and b"failed faulty running" in p.stdout
        for n in info["nodes"]:
            assert f.state(n["name"])["expected"] == n["expected"]
        pids = [int(open(os.path.join(d, "run", x)).read()) for x in os.listdir(os.path.join(d, "run"))]
        assert pids and all(os.path.exists("/proc/%d" % p) for p in pids)
        st = run_farm("status", "--dir", d)
        assert "3 nodes" in st.stdout and "(up)" in st.stdout
    finally:
        run_farm("down", "--dir", d)
    assert not any(os.path.exists("/proc/%d" % p) and b"sshd" in open("/proc/%d/cmdline" % p, "rb").read() for p in pids)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.9.101", 2222), timeout=2)
    assert not os.path.exists(os.path.join(d, "nodes"))  # the tmpfs trees went with it


# ---------------------------------------------------------------- renderings vs the real captures

def fixture_state(state):
    """A farm node state rebuilt from a capture folder's multipath -ll, json and dmsetup info."""
    d = os.path.join(FIXTURES, state)
    ll = open(os.path.join(d, "multipath-ll.txt")).read().splitlines()
    js = json.load(open(os.path.join(d, "multipathd-show-maps-json.txt")))
    info = {l.split()[0]: l.split() for l in open(os.path.join(d, "dmsetup-info-c.txt")).read().splitlines()[1:]}
    maps, cur = {}, None
    for l in ll:
        mm = re.match(r"^(\S+) \((\w+)\) dm-(\d+) ([^,]+),(.*)$", l)
        if mm:
            cur = {"name": mm[1], "wwid": mm[2], "dm": int(mm[3]), "vendor": mm[4], "product": mm[5], "rev": "4.0",
                   "size_gib": 1, "hwhandler": "1 alua", "wp": "rw", "open": 0, "holders": [],
                   "readable_when_failed": False, "events": int(info[mm[1]][6]), "groups": []}
            maps[cur["name"]] = cur
            continue
        g = re.search(r"policy='([^']+)' prio=\d+ status=(\w+)", l)
        if g:
            cur["groups"].append({"policy": g[1], "status": g[2], "paths": []})
            continue
        p = re.search(r"(\d+):0:0:(\d+) (sd\w+) (\d+):(\d+) +(\w+) +(\w+) +(\w+)$", l)
        if p:
            cur["groups"][-1]["paths"].append({"host": int(p[1]), "lun": int(p[2]), "dev": p[3], "major": int(p[4]),
                                               "minor": int(p[5]), "dm_st": p[6], "chk_st": p[7], "dev_st": p[8],
                                               "sysfs": "running"})
    for jm in js["maps"]:
        for k in ("queueing", "action", "path_faults", "switch_grp", "map_loads", "total_q_time", "q_timeouts"):
            maps[jm["name"]][k] = jm[k]
        pri = {p["dev"]: p["pri"] for g in jm["path_groups"] for p in g["paths"]}
        for g in maps[jm["name"]]["groups"]:
            for p in g["paths"]:
                p["pri"] = pri[p["dev"]]
    fails = dict(re.findall(r"(\d+:\d+) [AF] (\d+) ", open(os.path.join(d, "dmsetup-status.txt")).read()))
    for m in maps.values():
        for g in m["groups"]:
            for p in g["paths"]:
                p["fail_count"] = int(fails["%d:%d" % (p["major"], p["minor"])])
    return {"name": "fixture", "boot": 0, "maps": [maps[jm["name"]] for jm in js["maps"]], "mounts": [],
            "processes": [], "faults": {}}


@pytest.mark.parametrize("state", ["healthy", "residual", "hung", "partial", "mixed", "after-cleanup"])
def test_renderings_match_real_captures_byte_for_byte(state):
    st = fixture_state(state)
    d = os.path.join(FIXTURES, state)
    out, err = farmlib.render_multipath(st, st["maps"])
    assert out == open(os.path.join(d, "multipath-ll.txt")).read()
    errf = os.path.join(d, "multipath-ll.stderr.txt")
    strip = lambda s: re.sub(r"^\d+\.\d+ \| ", "", s, flags=re.M)
    assert strip(err) == (strip(open(errf).read()) if os.path.exists(errf) else "")
    assert farmlib.render_maps_json(st) == open(os.path.join(d, "multipathd-show-maps-json.txt")).read()
    assert farmlib.render_dmsetup_info(st) == open(os.path.join(d, "dmsetup-info-c.txt")).read()
    assert farmlib.render_dmsetup_status(st) == open(os.path.join(d, "dmsetup-status.txt")).read()
    assert farmlib.render_dmsetup_table(st) == open(os.path.join(d, "dmsetup-table.txt")).read()
    # lsblk: the capture also lists the VM's sr0 and vda, which a farm node does not have
    real = open(os.path.join(d, "lsblk-json.txt")).read()
    cut = real.index('},{\n         "name": "sr0"')
    ours = farmlib.render_lsblk(st)
    assert ours == real[:cut] + "}\n   ]\n}\n"
