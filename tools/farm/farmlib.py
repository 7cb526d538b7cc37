"""fleet farm: simulated worker nodes' storage state, its renderings and its transitions.

One JSON state file per node (DIR/nodes/<name>/state.json) is the source of truth. Every
change re-renders DIR/nodes/<name>/out/ (the outputs the sh shims cat) and
DIR/nodes/<name>/root/ (the FLEET_SYSROOT tree of real files and symlinks that the real
`ls` and `cat` read). Formats follow fixtures/real (multipath-tools 0.9.4).

Also run as a script by the shims: `farmlib.py settle|exec|ghost|kill NODE_DIR …`.
"""
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import sys
import time

GHOST_PID_BASE = 4194305  # above any pid_max (2^22): a kill -9 of it never hits a real process
TARGET_IQN = "iqn.2003-01.org.linux-iscsi.lab-node:mpath-lab"
HOSTS = [(6, 3, "192.168.77.1"), (7, 4, "127.0.0.1"), (8, 5, "192.168.78.1"), (9, 6, "192.168.79.1")]
SD_MAJORS = [8, 65, 66, 67, 68, 69, 70, 71, 128, 129, 130, 131, 132, 133, 134, 135]
VERDICTS = ["healthy", "degraded", "residual", "residual-hung", "in-use", "path-loss", "needs-review"]
MAP_KINDS = ["healthy", "degraded", "residual", "residual-hung", "in-use", "in-use-holder",
             "in-use-open", "in-use-block", "path-loss", "path-loss-window", "needs-review"]
FAULTS = ["down", "silent", "slow", "hung", "wrong-hostkey", "auth-refused", "garbage", "huge", "drop"]


# ---------------------------------------------------------------- names and numbers

def disk_name(i):
    """sda … sdz, sdaa … like the kernel's sd_format_disk_name."""
    s = ""
    i += 1
    while i > 0:
        i -= 1
        s = chr(ord("a") + i % 26) + s
        i //= 26
    return "sd" + s


def disk_devt(i):
    return SD_MAJORS[(i // 16) % len(SD_MAJORS)], (i % 16) * 16


def map_name(i):
    return "mpath" + disk_name(i)[2:]


def natural_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def disk_key(name):
    # sdz < sdaa, like the kernel's ordering
    return (len(name), name)


def h(*parts):
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


# ---------------------------------------------------------------- building node state

def make_map(node, idx, kind, seed, disk_index, opts=None):
    """A map of `kind` (see MAP_KINDS); opts override fields. Returns (map, disks used)."""
    opts = dict(opts or {})
    npaths = int(opts.pop("paths", 2))
    hx = h(seed, node, idx, "wwid")
    wwid = opts.pop("wwid", "36001405" + hx[:25])
    m = {
        "name": opts.pop("name", map_name(idx)),
        "wwid": wwid,
        "dm": int(opts.pop("dm", idx)),
        "vendor": opts.pop("vendor", "LIO-ORG"),
        "product": opts.pop("product", "lun%d" % idx),
        "rev": opts.pop("rev", "4.0"),
        "size_gib": opts.pop("size_gib", 1),
        "hwhandler": opts.pop("hwhandler", "1 alua"),
        "wp": opts.pop("wp", "rw"),
        "queueing": "12 chk",
        "open": 0,
        "holders": [],
        "readable_when_failed": False,
        "events": 0,
        "groups": [],
        "kind": kind,
        # CSI raw block volume: paths kubelet bind-mounted the device node onto (devtmpfs
        # binds, root /dm-N in mountinfo). They do not open the map: only mountinfo shows them.
        "block_publish": [],
    }
    serial = hx[25:57]
    m["serial"] = "%s-%s-%s-%s-%s" % (serial[:8], serial[8:12], serial[12:16], serial[16:20], serial[20:32])
    lun = int(opts.pop("lun", idx))
    paths = []
    for p in range(npaths):
        host, _, _ = HOSTS[p % len(HOSTS)]
        di = disk_index + p
        maj, mnr = disk_devt(di)
        paths.append({"dev": disk_name(di), "major": maj, "minor": mnr, "host": host, "lun": lun,
                      "dm_st": "active", "chk_st": "ready", "dev_st": "running", "sysfs": "running"})
    all_failed = kind not in ("healthy", "degraded")
    if kind == "degraded":
        paths[-1].update(dm_st="failed", chk_st="faulty")
    if all_failed:
        for p in paths:
            p.update(dm_st="failed", chk_st="faulty")
        m["events"] = npaths
    if kind in ("residual", "in-use", "in-use-holder", "in-use-open", "in-use-block", "needs-review"):
        m["queueing"] = "off"
    elif kind == "residual-hung":
        m["queueing"] = "on"
    elif kind == "path-loss":
        m["queueing"] = "39 sec"
        for p in paths:
            p["sysfs"] = "transport-offline"
    elif kind == "path-loss-window":
        m["queueing"] = "39 sec"
    if kind == "needs-review":
        m["readable_when_failed"] = True
    if kind == "in-use-holder":
        m["holders"] = ["dm-%d" % (100 + idx)]
    if kind == "in-use-open":
        m["open"] = 1
    policy = opts.pop("policy", "service-time 0")
    ngroups = max(1, min(int(opts.pop("groups", 1)), len(paths)))
    if ngroups == 1:
        m["groups"] = [{"policy": policy, "status": "active", "paths": paths}]
    else:
        # ALUA: the first group optimized (prio 50, active), the others non-optimized (10, enabled)
        m["groups"] = [{"policy": policy, "status": "active" if gi == 0 else "enabled", "prio": 50 if gi == 0 else 10,
                        "paths": paths[gi::ngroups]} for gi in range(ngroups)]
    if "queueing" in opts:
        m["queueing"] = opts.pop("queueing")
    for k, v in opts.items():
        m[k] = v
    return m, npaths


NODE_KEYS = {"name", "maps", "faults", "slow_seconds"}
MAP_KEYS = {"kind", "paths", "groups", "wwid", "name", "dm", "vendor", "product", "rev", "size_gib", "hwhandler", "wp",
            "lun", "policy", "queueing", "open", "holders", "readable_when_failed", "events", "path_faults",
            "block_publish", "openers"}


def validate_spec(spec):
    """Raises ValueError naming the first unknown key, kind or fault of a node spec."""
    name = spec.get("name", "?")
    bad = set(spec) - NODE_KEYS
    if bad:
        raise ValueError("node %s: unknown key(s) %s (known: %s)" % (name, ", ".join(sorted(bad)), ", ".join(sorted(NODE_KEYS))))
    for ms in spec.get("maps", []) or []:
        ms = {"kind": ms} if isinstance(ms, str) else ms
        if not isinstance(ms, dict):
            raise ValueError("node %s: a map is a kind or a mapping, not %r" % (name, ms))
        bad = set(ms) - MAP_KEYS
        if bad:
            raise ValueError("node %s: unknown map key(s) %s (known: %s)" % (name, ", ".join(sorted(bad)), ", ".join(sorted(MAP_KEYS))))
        if ms.get("kind", "healthy") not in MAP_KINDS:
            raise ValueError("node %s: unknown map kind %r (known: %s)" % (name, ms.get("kind"), ", ".join(MAP_KINDS)))
    faults = spec.get("faults", []) or []
    for f in [faults] if isinstance(faults, str) else faults:
        if f not in FAULTS:
            raise ValueError("node %s: unknown fault %r (known: %s)" % (name, f, ", ".join(FAULTS)))


def kind_verdict(kind):
    return {"in-use-holder": "in-use", "in-use-open": "in-use", "in-use-block": "in-use",
            "path-loss-window": "path-loss"}.get(kind, kind)


def build_state(name, spec, seed):
    """Node state from a node spec {maps: [kind | {kind:…, …}], faults: […], slow_seconds}."""
    st = {"name": name, "boot": time.time() - 2000.0 - (int(h(seed, name)[:4], 16) % 5000),
          "maps": [], "mounts": [], "processes": [], "next_ghost": GHOST_PID_BASE,
          "faults": {}}
    di = 0
    for idx, ms in enumerate(spec.get("maps", [])):
        if isinstance(ms, str):
            ms = {"kind": ms}
        ms = dict(ms)
        kind = ms.pop("kind", "healthy")
        if kind not in MAP_KINDS:
            raise ValueError("%s: unknown map kind %r (known: %s)" % (name, kind, ", ".join(MAP_KINDS)))
        m, used = make_map(name, idx, kind, seed, di, {k: v for k, v in ms.items() if k != "openers"})
        di += used
        st["maps"].append(m)
        if kind == "in-use":
            target = "/var/lib/kubelet/plugins/kubernetes.io/csi/pv/pvc-%s/globalmount" % h(seed, name, idx, "pvc")[:12]
            st["mounts"].append({"source": "/dev/mapper/" + m["name"], "target": target, "fstype": "ext4",
                                 "options": "rw,relatime"})
            pod = "/var/lib/kubelet/pods/%s/volumes/kubernetes.io~csi/pvc-%s/mount" % (
                h(seed, name, idx, "pod")[:8], h(seed, name, idx, "pvc")[:12])
            st["mounts"].append({"source": "/dev/mapper/" + m["name"], "target": pod, "fstype": "ext4",
                                 "options": "rw,relatime"})
        for o in ms.get("openers", []) or []:
            add_opener(st, m, o)
        if kind == "in-use-block" and not m["block_publish"]:
            pvc, pod = h(seed, name, idx, "pvc")[:12], h(seed, name, idx, "pod")[:8]
            m["block_publish"] = [
                "/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/pvc-%s/%s" % (pvc, pod),
                "/var/lib/kubelet/pods/%s/volumeDevices/kubernetes.io~csi/pvc-%s" % (pod, pvc)]
    faults = spec.get("faults", [])
    if isinstance(faults, str):
        faults = [faults]
    for f in faults:
        if f not in FAULTS:
            raise ValueError("%s: unknown fault %r (known: %s)" % (name, f, ", ".join(FAULTS)))
        st["faults"][f] = True
    if "slow" in st["faults"]:
        st["faults"]["slow"] = float(spec.get("slow_seconds", 3))
    st["next_disk"] = di
    return st


# ---------------------------------------------------------------- derived facts

def all_paths(m):
    return [p for g in m["groups"] for p in g["paths"]]


def is_all_failed(m):
    ps = all_paths(m)
    return bool(ps) and all(p["dm_st"] == "failed" for p in ps)


def features(m):
    return "0" if m["queueing"] == "off" else "1 queue_if_no_path"


def mounts_of(st, m):
    return [x for x in st["mounts"] if x["source"] in ("/dev/mapper/" + m["name"], "/dev/dm-%d" % m["dm"])]


def proc_fds(g):
    """A simulated process's fds on block devices: [{fd, dev, flags}] (a probe ghost reads its dm on fd 0)."""
    if "fds" in g:
        return g["fds"]
    return [{"fd": 0, "dev": g["dm"], "flags": "0140000"}] if g.get("dm") else []


def on_map(g, m):
    return any(f["dev"] in ("dm-%d" % m["dm"], m["name"]) for f in proc_fds(g))


def ghosts_of(st, m):
    return [g for g in st["processes"] if on_map(g, m)]


def open_count(st, m):
    # The dm open count counts open files on the map itself, not on its path disks.
    files = sum(1 for g in st["processes"] for f in proc_fds(g) if f["dev"] in ("dm-%d" % m["dm"], m["name"]))
    return m["open"] + len(mounts_of(st, m)) + len(m["holders"]) + files


# The documented stuck-reader programs (README, docs/clean.md): the farm's ground truth uses
# the same rule as fleet, written here from the documentation, not from fleet's code.
STUCK_READER_COMMS = {"dd", "blkid", "(udev-worker)", "systemd-udevd", "lvm", "pvscan", "vgscan", "lvs",
                      "multipath", "kpartx"}


def is_stuck_reader(g, m):
    mine = [f for f in proc_fds(g) if f["dev"] in ["dm-%d" % m["dm"], m["name"]] + [p["dev"] for p in all_paths(m)]]
    return (g["stat"].startswith("D") and all(int(f["flags"], 8) & 3 == 0 for f in mine)
            and g.get("comm", "dd") in STUCK_READER_COMMS and m["queueing"] != "off")


def add_opener(st, m, spec):
    """A process holding the map (or, with `disk: true`, its first path disk) open, from a
    scenario: {comm, args, stat, wchan, mode: r|rw, on_eio: exit|stay, fleet_probe}. `{dev}` in
    args is the device path. Its pid is a ghost pid, so a `kill -9` never reaches a real process."""
    spec = dict(spec or {})
    comm = spec.get("comm", "dd")
    dev = all_paths(m)[0]["dev"] if spec.get("disk") else "dm-%d" % m["dm"]
    args = spec.get("args") or ("dd if={dev} of=/dev/null count=1 bs=1M iflag=direct" if comm == "dd" else comm + " {dev}")
    mode = spec.get("mode", "r")
    flags = {"r": "0140000" if comm == "dd" else "0100000", "rw": "0100002", "w": "0100001"}[mode]
    pid = st["next_ghost"]
    st["next_ghost"] = pid + 1
    g = {"pid": pid, "ppid": 1, "stat": spec.get("stat", "D"), "wchan": spec.get("wchan", "submit_bio_wait"),
         "start": time.time() - 60, "cmd": args.replace("{dev}", "/dev/" + dev), "comm": comm,
         "fds": [{"fd": int(spec.get("fd", 0 if comm == "dd" else 3)), "dev": dev, "flags": flags}],
         "on_eio": spec.get("on_eio", "exit")}
    if spec.get("fleet_probe"):
        g["probe_nonce"] = h(st["name"], pid, "nonce")[:32]
    st["processes"].append(g)
    return g


def dd_mode(m):
    if any(p["dm_st"] == "active" for p in all_paths(m)) or m["readable_when_failed"]:
        return "ok"
    return "eio" if m["queueing"] == "off" else "hang"


def kubelet_names(st, m):
    """kubelet records on the node whose volume handle names the map's WWID (without its NAA digit)."""
    return [k for k in st.get("kubelet", []) if m["wwid"][1:] in k.get("handle", "").lower()]


def verdict(st, m):
    """Ground truth, as the vendor procedure and the fixtures define it."""
    ps = all_paths(m)
    if not ps:
        return "needs-review"
    # A disk whose own LUN identity is another WWID (the array reused the LUN number).
    if any(p.get("dev_wwid", m["wwid"]) != m["wwid"] for p in ps):
        return "lun-reuse-hazard"
    if not any(p["dm_st"] == "failed" for p in ps):
        return "healthy"
    if not is_all_failed(m):
        return "degraded"
    # Probe ghosts and other stuck readers raise the open count too, but they are not users.
    if m["open"] > 0 or mounts_of(st, m) or m["holders"] or m.get("block_publish") or kubelet_names(st, m):
        return "in-use"
    if any(not is_stuck_reader(g, m) for g in st["processes"]
           if any(f["dev"] in ["dm-%d" % m["dm"], m["name"]] + [p["dev"] for p in ps] for f in proc_fds(g))):
        return "in-use"
    if any(p["sysfs"] != "running" for p in ps) or re.fullmatch(r"\d+ sec", m["queueing"]):
        return "path-loss"
    if m["readable_when_failed"]:
        return "needs-review"
    return "residual" if m["queueing"] == "off" else "residual-hung"


def expected(st):
    return {m["wwid"]: verdict(st, m) for m in st["maps"]}


def uptime(st):
    return "%.6f" % (time.time() - st["boot"])


# ---------------------------------------------------------------- renderings (byte formats of 0.9.4)

def size_str(gib):
    return ("%.1fG" if gib < 10 else "%.0fG") % gib


def group_prio(g):
    return g.get("prio", 50) if any(p["dm_st"] == "active" for p in g["paths"]) else 0


def render_multipath(st, maps, checker=True):
    out, err = [], []
    for m in sorted(maps, key=lambda m: m["name"]):
        out.append("%s (%s) dm-%d %s,%s" % (m["name"], m["wwid"], m["dm"], m["vendor"], m["product"]))
        out.append("size=%s features='%s' hwhandler='%s' wp=%s" % (size_str(m["size_gib"]), features(m), m["hwhandler"], m["wp"]))
        rows = []
        for g in m["groups"]:
            for p in g["paths"]:
                rows.append(["%d:0:0:%d" % (p["host"], p["lun"]), p["dev"], "%d:%d" % (p["major"], p["minor"]),
                             p["dm_st"], p["chk_st"] if checker else "undef", p["dev_st"]])
        widths = [max(len(r[i]) for r in rows) for i in range(6)] if rows else [0] * 6
        k = 0
        for gi, g in enumerate(m["groups"]):
            last_g = gi == len(m["groups"]) - 1
            out.append("%s policy='%s' prio=%d status=%s" % ("`-+-" if last_g else "|-+-", g["policy"],
                                                              group_prio(g) if checker else 0, g["status"]))
            for pi, p in enumerate(g["paths"]):
                r = rows[k]
                k += 1
                line = " ".join(r[i].ljust(widths[i]) for i in range(5)) + " " + r[5]
                out.append("%s %s %s" % (" " if last_g else "|", "`-" if pi == len(g["paths"]) - 1 else "|-", line))
                if checker and p["dm_st"] == "failed":
                    err.append("%s | %s: prio = const (setting: emergency fallback - alua failed)" % (uptime(st), p["dev"]))
    return "".join(l + "\n" for l in out), "".join(l + "\n" for l in err)


def render_maps_json(st):
    def kv(ind, k, v, last=False):
        val = json.dumps(v) if isinstance(v, str) else str(v)
        return "%s\"%s\" : %s%s\n" % (" " * ind, k, val, "" if last else ",")
    s = "{\n   \"major_version\": 0,\n   \"minor_version\": 1,\n   \"maps\": ["
    if not st["maps"]:
        return s + "]\n}\n"
    parts = []
    for m in st["maps"]:
        ps = all_paths(m)
        t = "{\n"
        for k, v in [("name", m["name"]), ("uuid", m["wwid"]), ("sysfs", "dm-%d" % m["dm"]), ("failback", "immediate"),
                     ("queueing", m["queueing"]), ("paths", sum(p["dm_st"] == "active" for p in ps)),
                     ("write_prot", m["wp"]), ("dm_st", "active"), ("features", features(m)),
                     ("hwhandler", m["hwhandler"]), ("action", m.get("action", "")),
                     ("path_faults", m.get("path_faults", m["events"])),
                     ("vend", m["vendor"].strip()), ("prod", m["product"].strip()), ("rev", m["rev"]),
                     ("switch_grp", m.get("switch_grp", 0)), ("map_loads", m.get("map_loads", 0)),
                     ("total_q_time", m.get("total_q_time", 0)), ("q_timeouts", m.get("q_timeouts", 0))]:
            t += kv(6, k, v)
        t += "      \"path_groups\": ["
        gparts = []
        for gi, g in enumerate(m["groups"]):
            u = "{\n"
            u += kv(9, "selector", g["policy"]) + kv(9, "pri", group_prio(g))
            u += kv(9, "dm_st", "active" if g["status"] == "active" else "enabled")
            u += kv(9, "marginal_st", "normal") + kv(9, "group", gi + 1)
            u += "         \"paths\": ["
            pparts = []
            for p in g["paths"]:
                host = [x for x in HOSTS if x[0] == p["host"]][0]
                w = "{\n"
                for k, v in [("dev", p["dev"]), ("dev_t", "%d:%d" % (p["major"], p["minor"])), ("dm_st", p["dm_st"]),
                             ("dev_st", p["dev_st"]), ("chk_st", p["chk_st"]), ("checker", "tur"), ("pri", p.get("pri", 50)),
                             ("host_wwnn", "[undef]"), ("target_wwnn", TARGET_IQN), ("host_wwpn", "[undef]"),
                             ("target_wwpn", "[undef]"), ("host_adapter", host[2]),
                             ("lun_hex", "0x%04x000000000000" % p["lun"])]:
                    w += kv(12, k, v)
                w += kv(12, "marginal_st", "normal", last=True) + "         }"
                pparts.append(w)
            u += ",".join(pparts) + "]\n      }"
            gparts.append(u)
        t += ",".join(gparts) + "]\n   }"
        parts.append(t)
    return s + ",".join(parts) + "]\n}\n"


def render_dmsetup_info(st, maps=None):
    maps = sorted(st["maps"] if maps is None else maps, key=lambda m: m["name"])
    if not maps:
        return "No devices found\n"
    nw = max([16] + [len(m["name"]) for m in maps])
    uw = max(len("mpath-" + m["wwid"]) for m in maps)
    lines = ["%s %s %s %s %s %s %s  %s" % ("Name".ljust(nw), "Maj", "Min", "Stat", "Open", "Targ", "Event", "UUID".ljust(uw))]
    for m in maps:
        lines.append("%s %3d %3d %s %4d %4d %6d %s" % (m["name"].ljust(nw), 253, m["dm"], "L--w", open_count(st, m), 1,
                                                         m["events"], "mpath-" + m["wwid"]))
    return "".join(l + "\n" for l in lines)


def render_dmsetup_status(st):
    lines = []
    for m in sorted(st["maps"], key=lambda m: m["name"]):
        s = "%s: 0 %d multipath 2 0 1 0 %d 1 " % (m["name"], int(m["size_gib"] * 2097152), len(m["groups"]))
        for g in m["groups"]:
            s += "%s 0 %d 2 " % ("A" if g["status"] == "active" else "E", len(g["paths"]))
            for p in g["paths"]:
                ok = p["dm_st"] == "active"
                s += "%d:%d %s %d 0 1 " % (p["major"], p["minor"], "A" if ok else "F", p.get("fail_count", 0 if ok else 1))
        lines.append(s)
    return "".join(l + "\n" for l in lines) if lines else "No devices found\n"


def render_dmsetup_table(st):
    lines = []
    for m in sorted(st["maps"], key=lambda m: m["name"]):
        s = "%s: 0 %d multipath %s %s %d 1 " % (m["name"], int(m["size_gib"] * 2097152), features(m), m["hwhandler"], len(m["groups"]))
        for g in m["groups"]:
            s += "%s %d 2 " % (g["policy"], len(g["paths"]))
            for p in g["paths"]:
                s += "%d:%d 1 1 " % (p["major"], p["minor"])
        lines.append(s)
    return "".join(l + "\n" for l in lines) if lines else "No devices found\n"


def lsblk_obj(d, ind):
    pad = " " * ind
    items = []
    for k, v in d:
        if k == "children":
            items.append('%s   "children": [\n%s%s\n%s   ]' % (pad, pad + "      ", ",".join(lsblk_obj(c, ind + 6) for c in v), pad))
        else:
            items.append('%s   "%s": %s' % (pad, k, "null" if v is None else json.dumps(v)))
    return "{\n%s\n%s}" % (",\n".join(items), pad)


def render_lsblk(st):
    disks = []
    for m in st["maps"]:
        mnt = mounts_of(st, m)
        for p in all_paths(m):
            disks.append((p, m, mnt[0]["target"] if mnt else None))
    for d in st.get("loose_disks", []):
        disks.append((d, None, None))
    disks.sort(key=lambda x: disk_key(x[0]["dev"]))
    objs = []
    for p, m, mnt in disks:
        size = "%gG" % (m["size_gib"] if m else p.get("size_gib", 1))
        o = [("name", p["dev"]), ("kname", p["dev"]), ("type", "disk"), ("size", size),
             ("wwn", "0x" + (m["wwid"] if m else p["wwid"])[1:]), ("hctl", "%d:0:0:%d" % (p["host"], p["lun"])),
             ("state", p["sysfs"]), ("mountpoint", None), ("pkname", None)]
        if m:
            o.append(("children", [[("name", m["name"]), ("kname", "dm-%d" % m["dm"]), ("type", "mpath"),
                                    ("size", size), ("wwn", None), ("hctl", None), ("state", "running"),
                                    ("mountpoint", mnt), ("pkname", p["dev"])]]))
        objs.append(o)
    body = ",".join(lsblk_obj(o, 6) for o in objs)
    return "{\n   \"blockdevices\": [\n      %s\n   ]\n}\n" % body if objs else "{\n   \"blockdevices\": [\n   ]\n}\n"


BASE_PROCS = [(1, 0, "Ss", "-", "systemd"), (2, 0, "S", "-", "[kthreadd]"),
              (412, 1, "SLsl", "-", "/sbin/multipathd -d -s"), (655, 1, "Ss", "-", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
              (701, 1, "Ssl", "-", "/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml")]


def etime(sec):
    sec = max(0, int(sec))
    d, r = divmod(sec, 86400)
    hh, r = divmod(r, 3600)
    mm, ss = divmod(r, 60)
    if d:
        return "%d-%02d:%02d:%02d" % (d, hh, mm, ss)
    if hh:
        return "%02d:%02d:%02d" % (hh, mm, ss)
    return "%02d:%02d" % (mm, ss)


def ps_line(pid, ppid, stat, wchan, et, cmd):
    return "%7s %7s %-4s %-32s %11s %s\n" % (pid, ppid, stat, wchan, et, cmd)


def render_ps(st, self_pid=None):
    now = time.time()
    s = ps_line("PID", "PPID", "STAT", "WCHAN", "ELAPSED", "CMD")
    for pid, ppid, stat, wchan, cmd in BASE_PROCS:
        s += ps_line(pid, ppid, stat, wchan, etime(now - st["boot"]), cmd)
    for g in st["processes"]:
        s += ps_line(g["pid"], g["ppid"], g["stat"], g["wchan"], etime(now - g["start"]), g["cmd"])
    if self_pid:
        s += ps_line(self_pid, 1, "R", "-", "00:00", "ps -eo pid,ppid,stat,wchan:32,etime,cmd")
    return s


def render_mounts(st):
    s = ("sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
         "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
         "udev /dev devtmpfs rw,nosuid,relatime,size=4010000k,nr_inodes=1002500,mode=755 0 0\n"
         "/dev/vda1 / ext4 rw,relatime,errors=remount-ro 0 0\n")
    for x in st["mounts"]:
        s += "%s %s %s %s 0 0\n" % (x["source"], x["target"], x["fstype"], x["options"])
    for m in st["maps"]:
        for path in m.get("block_publish", []):
            s += "udev %s devtmpfs %s 0 0\n" % (mount_escape(path), DEVTMPFS_OPTS)
    return s


DEVTMPFS_OPTS = "rw,nosuid,relatime,size=4010000k,nr_inodes=1002500,mode=755"


def mount_escape(path):
    """The kernel's \\ooo escapes for space, tab, newline and backslash in mount tables."""
    return "".join("\\%03o" % ord(c) if c in " \t\n\\" else c for c in path)


def render_mountinfo(st):
    """/proc/self/mountinfo (proc(5)): the same mounts as render_mounts, with the root field
    that names a bind-mounted device node (`/dm-3`) inside devtmpfs (0:5)."""
    s = ("22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
         "23 28 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw\n"
         "24 28 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev " + DEVTMPFS_OPTS + "\n"
         "28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro\n")
    mid = 1000
    dm_of = {"/dev/mapper/" + m["name"]: m["dm"] for m in st["maps"]}
    dm_of.update({"/dev/dm-%d" % m["dm"]: m["dm"] for m in st["maps"]})
    for x in st["mounts"]:
        dev = "253:%d" % dm_of[x["source"]] if x["source"] in dm_of else "0:99"
        s += "%d 28 %s / %s %s shared:%d - %s %s rw\n" % (mid, dev, mount_escape(x["target"]), x["options"], mid,
                                                           x["fstype"], x["source"])
        mid += 1
    for m in st["maps"]:
        for path in m.get("block_publish", []):
            s += "%d 24 0:5 /dm-%d %s rw,nosuid,relatime shared:2 - devtmpfs udev %s\n" % (
                mid, m["dm"], mount_escape(path), DEVTMPFS_OPTS)
            mid += 1
    return s


def garbage_text(name):
    rnd = random.Random(name)
    lines = []
    for _ in range(40):
        lines.append("".join(rnd.choice("abcdef0123456789 |`-+=:()'") for _ in range(rnd.randint(5, 90))))
    return "\n".join(lines) + "\n\x00\x01\xff not multipath output\n"


# ---------------------------------------------------------------- the tree under FLEET_SYSROOT

def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)


def build_root(st, root):
    os.makedirs(root)
    sysb = os.path.join(root, "sys/block")
    byid = os.path.join(root, "dev/disk/by-id")
    for d in (sysb, byid, os.path.join(root, "dev/mapper"), os.path.join(root, "proc"),
              os.path.join(root, "sys/devices/virtual/block")):
        os.makedirs(d)
    write(os.path.join(root, "proc/mounts"), render_mounts(st))
    os.makedirs(os.path.join(root, "proc/self"))
    write(os.path.join(root, "proc/self/mountinfo"), render_mountinfo(st))

    def add_disk(p, m):
        host = [x for x in HOSTS if x[0] == p["host"]][0]
        hctl = "%d:0:0:%d" % (p["host"], p["lun"])
        rel = "devices/platform/host%d/session%d/target%d:0:0/%s" % (host[0], host[1], host[0], hctl)
        sdev = os.path.join(root, "sys", rel)
        os.makedirs(os.path.join(sdev, "block", p["dev"]))
        write(os.path.join(sdev, "state"), p["sysfs"] + "\n")
        # The LUN's own identity as the kernel prints it (VPD page 0x83 NAA: naa.<hex>).
        write(os.path.join(sdev, "wwid"), "naa." + p.get("dev_wwid", m["wwid"] if m else p["wwid"])[1:] + "\n")
        write(os.path.join(sdev, "delete"), "")
        os.symlink("../../../" + hctl, os.path.join(sdev, "block", p["dev"], "device"))
        os.symlink("../%s/block/%s" % (rel, p["dev"]), os.path.join(sysb, p["dev"]))
        write(os.path.join(root, "dev", p["dev"]), "")
        wwid = m["wwid"] if m else p["wwid"]
        serial = m["serial"] if m else p["serial"]
        vend = (m["vendor"] if m else p["vendor"]).strip()
        prod = (m["product"] if m else p["product"]).strip()
        for link in ("scsi-1%s_%s:%s" % (vend, prod, serial), "scsi-S%s_%s_%s" % (vend, prod, serial)):
            lp = os.path.join(byid, udev_safe(link))
            if not os.path.lexists(lp):
                os.symlink("../../" + p["dev"], lp)
        if not m:
            for link in ("scsi-" + wwid, "wwn-0x" + wwid[1:]):
                lp = os.path.join(byid, link)
                if not os.path.lexists(lp):
                    os.symlink("../../" + p["dev"], lp)

    build_proc(st, root)
    for m in st["maps"]:
        dm = "dm-%d" % m["dm"]
        d = os.path.join(root, "sys/devices/virtual/block", dm)
        os.makedirs(os.path.join(d, "dm"))
        os.makedirs(os.path.join(d, "slaves"))
        os.makedirs(os.path.join(d, "holders"))
        write(os.path.join(d, "dm/name"), m["name"] + "\n")
        write(os.path.join(d, "dm/uuid"), "mpath-" + m["wwid"] + "\n")
        for hd in m["holders"]:
            os.symlink("../../" + hd, os.path.join(d, "holders", hd))
        os.symlink("../devices/virtual/block/" + dm, os.path.join(sysb, dm))
        write(os.path.join(root, "dev", dm), "")
        os.symlink("../" + dm, os.path.join(root, "dev/mapper", m["name"]))
        for link in ("dm-name-" + m["name"], "dm-uuid-mpath-" + m["wwid"], "scsi-" + m["wwid"], "wwn-0x" + m["wwid"][1:]):
            os.symlink("../../" + dm, os.path.join(byid, link))
        for p in all_paths(m):
            add_disk(p, m)
            os.symlink("../../" + p["dev"], os.path.join(d, "slaves", p["dev"]))
    for p in st.get("loose_disks", []):
        add_disk(p, None)
    # kubelet's CSI records (kubelet's saveVolumeData: one JSON object per file).
    base = os.path.join(root, "var/lib/kubelet/plugins/kubernetes.io/csi")
    for k in st.get("kubelet", []):
        d = os.path.join(base, "volumeDevices", k["pv"], "data") if k.get("block") else os.path.join(base, "pv", k["pv"])
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "vol_data.json"), json.dumps({
            "attachmentID": "csi-" + h(k["pv"], st["name"])[:64], "driverName": k["driver"], "nodeName": st["name"],
            "specVolID": k["pv"], "volumeHandle": k["handle"], "volumeLifecycleMode": "Persistent"}, separators=(",", ":")))


MULTIPATHD_PID = 412


def build_proc(st, root):
    """/proc/PID/{stat,wchan,cmdline,environ,fd/N,fdinfo/N} of every simulated opener, and of
    multipathd, which (like the real one) holds every path disk it checks open read-only."""
    disks = [p["dev"] for m in st["maps"] for p in all_paths(m)] + [p["dev"] for p in st.get("loose_disks", [])]
    procs = [{"pid": MULTIPATHD_PID, "ppid": 1, "stat": "S", "wchan": "futex_wait_queue", "comm": "multipathd",
              "cmd": "/sbin/multipathd -d -s",
              "fds": [{"fd": 10 + i, "dev": d, "flags": "0100000"} for i, d in enumerate(sorted(disks, key=disk_key))]}]
    procs += st["processes"]
    for g in procs:
        pd = os.path.join(root, "proc", str(g["pid"]))
        os.makedirs(os.path.join(pd, "fd"))
        os.makedirs(os.path.join(pd, "fdinfo"))
        comm = g.get("comm") or g["cmd"].split()[0].rsplit("/", 1)[-1]
        write(os.path.join(pd, "stat"), "%d (%s) %s %d %d %d 0 -1 4194304 358 0 0 0 3 7 0 0 20 0 1 0 107656\n"
              % (g["pid"], comm, g["stat"][0], g["ppid"], g["pid"], g["pid"]))
        write(os.path.join(pd, "wchan"), g.get("wchan") or "0")  # the kernel writes no newline
        write(os.path.join(pd, "comm"), comm + "\n")
        write(os.path.join(pd, "cmdline"), "".join(a + "\0" for a in g["cmd"].split()))
        env = "PATH=/usr/sbin:/usr/bin:/sbin:/bin\0"
        if g.get("probe_nonce"):
            env += "FLEET_PROBE=%s\0" % g["probe_nonce"]
        write(os.path.join(pd, "environ"), env)
        for f in proc_fds(g):
            os.symlink("/dev/" + f["dev"] if not f["dev"].startswith("mpath") else "/dev/mapper/" + f["dev"],
                       os.path.join(pd, "fd", str(f["fd"])))
            write(os.path.join(pd, "fdinfo", str(f["fd"])), "pos:\t0\nflags:\t%s\nmnt_id:\t23\nino:\t571\n" % f["flags"])


def render_node(ndir, st):
    """Writes out/ and root/ for this state. Readers may see a short gap between the renames."""
    out = os.path.join(ndir, "out")
    tmp = os.path.join(ndir, "out.new")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "dd"))
    ll, llerr = render_multipath(st, st["maps"])
    write(os.path.join(tmp, "mpll"), ll)
    write(os.path.join(tmp, "mpll.err"), llerr)
    write(os.path.join(tmp, "mpl"), render_multipath(st, st["maps"], checker=False)[0])
    write(os.path.join(tmp, "mpd-json"), render_maps_json(st))
    write(os.path.join(tmp, "dm-info"), render_dmsetup_info(st))
    write(os.path.join(tmp, "dm-status"), render_dmsetup_status(st))
    write(os.path.join(tmp, "dm-table"), render_dmsetup_table(st))
    write(os.path.join(tmp, "lsblk"), render_lsblk(st))
    write(os.path.join(tmp, "ps"), render_ps(st))
    if st["processes"]:
        write(os.path.join(tmp, "ps-dynamic"), "")
    for m in st["maps"]:
        write(os.path.join(tmp, "dd", "dm-%d" % m["dm"]), dd_mode(m) + "\n")
    if st["faults"].get("garbage"):
        write(os.path.join(tmp, "garbage"), garbage_text(st["name"]), "w")
    if st["faults"].get("huge"):
        unit = ll or "mpatha (36001405000000000000000000000000) dm-0 LIO-ORG,lun0\n"
        write(os.path.join(tmp, "huge-unit"), unit * ((1 << 20) // len(unit) + 1))  # the shim repeats it past 20 MiB
    for f in ("slow", "hung", "garbage", "huge", "drop"):
        fp = os.path.join(ndir, "fault-" + f)
        if st["faults"].get(f):
            write(fp, "%s\n" % (st["faults"][f] if f == "slow" else "1"))
        elif os.path.exists(fp):
            os.unlink(fp)
    root = os.path.join(ndir, "root")
    rtmp = os.path.join(ndir, "root.new")
    shutil.rmtree(rtmp, ignore_errors=True)
    build_root(st, rtmp)
    swap(tmp, out)
    swap(rtmp, root)


_libc = None


def exchange(a, b):
    """renameat2(RENAME_EXCHANGE): swaps two paths atomically, so a concurrent reader never
    finds the node's tree missing. False where the kernel or libc lacks it."""
    global _libc
    try:
        if _libc is None:
            import ctypes
            _libc = ctypes.CDLL(None, use_errno=True)
        f = _libc.renameat2
    except (OSError, AttributeError):
        return False
    return f(-100, a.encode(), -100, b.encode(), 2) == 0  # AT_FDCWD, RENAME_EXCHANGE


def swap(new, cur):
    if os.path.exists(cur) and exchange(new, cur):
        shutil.rmtree(new, ignore_errors=True)  # now holds the previous tree
        return
    old = cur + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(cur):
        os.rename(cur, old)
    os.rename(new, cur)
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- state file access

class Node:
    """Locked read-modify-write of one node's state.json, re-rendering on change."""

    def __init__(self, ndir):
        self.dir = ndir
        self.path = os.path.join(ndir, "state.json")

    def __enter__(self):
        self.lock = open(os.path.join(self.dir, "lock"), "w")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        with open(self.path) as f:
            self.st = json.load(f)
        self.changed = False
        return self

    def save(self):
        save_state(self.dir, self.st)
        render_node(self.dir, self.st)
        self.changed = False

    def __exit__(self, *a):
        if self.changed:
            self.save()
        self.lock.close()


def save_state(ndir, st):
    tmp = os.path.join(ndir, "state.json.tmp")
    with open(tmp, "w") as f:
        json.dump(st, f, indent=1, sort_keys=True)
    os.rename(tmp, os.path.join(ndir, "state.json"))


def udev_safe(name):
    """A /dev/disk/by-id link name as udev makes it from vendor and product strings
    (util_replace_whitespace, then util_replace_chars): a product string with spaces or
    slashes still gives one file name."""
    return re.sub(r"[^0-9A-Za-z#+\-.:=@_]", "_", re.sub(r"\s+", "_", name))


def settle(node):
    """Applies every pending `echo 1 > …/device/delete` as the kernel would: the disk leaves
    its map, /sys/block and /dev/disk/by-id."""
    st = node.st
    root = os.path.join(node.dir, "root")
    gone = set()
    for m in st["maps"]:
        for p in all_paths(m):
            if pending_delete(root, p["dev"]):
                gone.add(p["dev"])
    for p in st.get("loose_disks", []):
        if pending_delete(root, p["dev"]):
            gone.add(p["dev"])
    if not gone:
        return
    for m in st["maps"]:
        for g in m["groups"]:
            g["paths"] = [p for p in g["paths"] if p["dev"] not in gone]
        m["groups"] = [g for g in m["groups"] if g["paths"]] or [{"policy": "service-time 0", "status": "active", "paths": []}]
    st["loose_disks"] = [p for p in st.get("loose_disks", []) if p["dev"] not in gone]
    node.changed = True


def pending_delete(root, dev):
    try:
        with open(os.path.join(root, "sys/block", dev, "device/delete")) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def find_map(st, arg):
    a = arg
    if a.startswith("/dev/mapper/"):
        a = a[len("/dev/mapper/"):]
    if "/dev/" in a:
        a = a.rsplit("/", 1)[1]
    for m in st["maps"]:
        if a in (m["name"], "dm-%d" % m["dm"], m["wwid"]):
            return m
    return None


def sshd_ancestor():
    p = os.getppid()
    while p > 1:
        try:
            with open("/proc/%d/comm" % p) as f:
                if f.read().strip() == "sshd":
                    return p
            with open("/proc/%d/stat" % p) as f:
                p = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
    return None


def disable_queueing(st, m):
    m["queueing"] = "off"
    if is_all_failed(m):
        for g in m["groups"]:
            g["status"] = "enabled"
    # The queued I/O fails: processes blocked in it (D state) get EIO and exit, unless one is
    # stuck elsewhere too (on_eio: stay). A sleeping holder or a writer is not blocked: it stays.
    st["processes"] = [g for g in st["processes"]
                       if not (on_map(g, m) and g["stat"].startswith("D") and g.get("on_eio", "exit") == "exit")]


# ---------------------------------------------------------------- commands the shims hand over

def node_exec(ndir, argv):
    """Everything the sh shims do not answer from pre-rendered files. Returns the exit code."""
    cmd, args = argv[0], argv[1:]
    with Node(ndir) as node:
        settle(node)
        if node.changed:
            node.save()
        st = node.st
        if cmd == "multipath":
            return cmd_multipath(node, args)
        if cmd == "multipathd":
            return cmd_multipathd(node, args)
        if cmd == "dmsetup":
            return cmd_dmsetup(node, args)
        if cmd == "ps":
            sys.stdout.write(render_ps(st, os.getppid()))
            return 0
        if cmd == "lsblk":
            sys.stdout.write(render_lsblk(st))
            return 0
    sys.stderr.write("farm: %s %s: not simulated\n" % (cmd, " ".join(args)))
    return 127


def cmd_multipath(node, args):
    st = node.st
    if args[:1] == ["-f"] and len(args) == 2:
        m = find_map(st, args[1])
        if m is None:
            # multipath-tools 0.9.4 prints this through condlog when dm_flush_map finds no map
            sys.stderr.write("%s | %s is not a multipath device\n" % (uptime(st), args[1]))
            return 1
        if open_count(st, m) > 0:
            sys.stderr.write("%s | %s: map in use\n" % (uptime(st), args[1]))
            return 1
        st["maps"].remove(m)
        loose = st.setdefault("loose_disks", [])
        for p in all_paths(m):
            d = dict(p)
            d.update(wwid=m["wwid"], serial=m["serial"], vendor=m["vendor"], product=m["product"], size_gib=m["size_gib"])
            loose.append(d)
        node.changed = True
        if st["faults"].get("drop"):
            node.save()
            pid = sshd_ancestor()
            if pid:
                os.kill(pid, 9)
        return 0
    if args[:1] == ["-w"] and len(args) == 2:
        # multipath-tools: remove_wwid() on /etc/multipath/wwids
        removed = st.setdefault("wwids_removed", [])
        if args[1] in removed:
            print("wwid '%s' not in wwids file" % args[1])
        else:
            removed.append(args[1])
            print("wwid '%s' removed" % args[1])
        node.changed = True
        return 0
    if args[:1] in (["-ll"], ["-l"]) and len(args) == 2:
        m = find_map(st, args[1])
        if m is None:
            return 0
        out, err = render_multipath(st, [m], checker=args[0] == "-ll")
        sys.stdout.write(out)
        sys.stderr.write(err)
        return 0
    if args in (["-ll"], ["-l"]):
        out, err = render_multipath(st, st["maps"], checker=args[0] == "-ll")
        sys.stdout.write(out)
        sys.stderr.write(err)
        return 0
    sys.stderr.write("farm: multipath %s: not simulated\n" % " ".join(args))
    return 1


def cmd_multipathd(node, args):
    st = node.st
    if len(args) == 3 and args[0] in ("disablequeueing", "disablequeue") and args[1] == "map":
        m = find_map(st, args[2])
        if m is None:
            print("fail")
            return 1
        disable_queueing(st, m)
        node.changed = True
        print("ok")
        return 0
    if args == ["show", "maps", "json"]:
        sys.stdout.write(render_maps_json(st))
        return 0
    sys.stderr.write("farm: multipathd %s: not simulated\n" % " ".join(args))
    return 1


def cmd_dmsetup(node, args):
    st = node.st
    if len(args) == 4 and args[0] == "message" and args[2] == "0" and args[3] in ("fail_if_no_path", "queue_if_no_path"):
        m = find_map(st, args[1])
        if m is None:
            sys.stderr.write("device-mapper: message ioctl on %s  failed: No such device or address\n"
                             "Command failed.\n" % args[1])
            return 1
        if args[3] == "fail_if_no_path":
            disable_queueing(st, m)
        else:
            m["queueing"] = "on"
        node.changed = True
        return 0
    if args[:2] == ["info", "-c"]:
        maps = st["maps"] if len(args) == 2 else [m for m in st["maps"] if m["name"] in args[2:]]
        if len(args) > 2 and not maps:
            sys.stderr.write("Device does not exist.\nCommand failed.\n")
            return 1
        sys.stdout.write(render_dmsetup_info(st, maps))
        return 0
    if args == ["status"]:
        sys.stdout.write(render_dmsetup_status(st))
        return 0
    if args == ["table"]:
        sys.stdout.write(render_dmsetup_table(st))
        return 0
    sys.stderr.write("farm: dmsetup %s: not simulated\n" % " ".join(args))
    return 1


def add_ghost(ndir, dev, path):
    """A probe on a queueing map: like the kernel, leave a D-state dd behind until queueing stops."""
    with Node(ndir) as node:
        st = node.st
        pid = st["next_ghost"]
        st["next_ghost"] = pid + 1
        g = {"pid": pid, "ppid": 1, "stat": "D", "wchan": "submit_bio_wait", "start": time.time(),
             "cmd": "dd if=%s of=/dev/null count=1 bs=1M iflag=direct" % path, "dm": dev, "comm": "dd"}
        nonce = os.environ.get("FLEET_PROBE", "")
        if re.fullmatch(r"[0-9a-f]{32}", nonce):
            g["probe_nonce"] = nonce  # fleet's probe script exports it, like the real dd inherits it
        st["processes"].append(g)
        node.changed = True


def kill_ghost(ndir, pid):
    """kill -9 of a D-state dd: the signal is accepted (exit 0) but the process stays until its I/O fails."""
    with Node(ndir) as node:
        for g in node.st["processes"]:
            if g["pid"] == pid:
                if g["stat"].startswith("D"):
                    g["signalled"] = True  # pending until its I/O ends
                else:
                    node.st["processes"].remove(g)  # not blocked: SIGKILL ends it at once
                node.changed = True
                return 0
    sys.stderr.write("kill: (%d) - No such process\n" % pid)
    return 1


# ---------------------------------------------------------------- test controls (`farm set`)

def set_actions(ndir, actions):
    """Applies `farm set` actions, e.g. ['fail-paths', WWID, 'mount', WWID, '/mnt/x']."""
    with Node(ndir) as node:
        settle(node)
        st = node.st
        i = 0
        while i < len(actions):
            a = actions[i]
            def arg(k=1):
                if i + k >= len(actions):
                    raise SystemExit("farm set: %s needs an argument" % a)
                return actions[i + k]
            def themap(w):
                m = find_map(st, w)
                if m is None:
                    raise SystemExit("farm set: no map %s on %s" % (w, st["name"]))
                return m
            if a == "recover-paths":
                m = themap(arg())
                for p in all_paths(m):
                    p.update(dm_st="active", chk_st="ready", sysfs="running")
                for g in m["groups"]:
                    g["status"] = "active"
                m["queueing"] = "12 chk"
                st["processes"] = [g for g in st["processes"] if g.get("dm") != "dm-%d" % m["dm"]]
                i += 2
            elif a == "fail-paths":
                m = themap(arg())
                for p in all_paths(m):
                    p.update(dm_st="failed", chk_st="faulty")
                m["events"] += len(all_paths(m))
                i += 2
            elif a == "transport-offline":
                m = themap(arg())
                for p in all_paths(m):
                    p.update(dm_st="failed", chk_st="faulty", sysfs="transport-offline")
                i += 2
            elif a == "queueing":
                m = themap(arg())
                if arg(2) == "off":
                    disable_queueing(st, m)  # queued I/O fails: stuck dds exit
                else:
                    m["queueing"] = arg(2)
                i += 3
            elif a == "reuse-dm":
                # The map is gone and a different LUN took its dm number and name: what was planned
                # is no longer what is there.
                m = themap(arg())
                new_wwid = arg(2) if i + 2 < len(actions) and re.fullmatch(r"3[0-9a-f]{10,}", actions[i + 2]) else None
                m["wwid"] = new_wwid or ("36001405" + h(st["name"], m["wwid"], "reuse")[:25])
                m["serial"] = h(m["wwid"])[:8] + "-" + h(m["wwid"])[8:12] + "-0000-0000-" + h(m["wwid"])[12:24]
                for p in all_paths(m):
                    p.update(dm_st="active", chk_st="ready", sysfs="running")
                m["queueing"] = "12 chk"
                for g in m["groups"]:
                    g["status"] = "active"
                i += 3 if new_wwid else 2
            elif a == "mount":
                m = themap(arg())
                st["mounts"].append({"source": "/dev/mapper/" + m["name"], "target": arg(2), "fstype": "ext4",
                                     "options": "rw,relatime"})
                i += 3
            elif a == "unmount":
                m = themap(arg())
                st["mounts"] = [x for x in st["mounts"] if x not in mounts_of(st, m)]
                i += 2
            elif a == "publish-block":
                # kubelet's raw block publish: a bind of the map's device node onto PATH
                m = themap(arg())
                m.setdefault("block_publish", []).append(arg(2))
                i += 3
            elif a == "unpublish-block":
                themap(arg())["block_publish"] = []
                i += 2
            elif a == "lun-reuse":
                # The array gave this LUN number to another volume: the path disk(s) now carry
                # another identity under the old map (kubernetes #59946).
                m = themap(arg())
                dev = actions[i + 2] if i + 2 < len(actions) and re.fullmatch(r"sd[a-z]+", actions[i + 2]) else None
                for p in all_paths(m):
                    if dev is None or p["dev"] == dev:
                        p["dev_wwid"] = "36001405" + h(st["name"], m["wwid"], "lun-reuse")[:25]
                i += 3 if dev else 2
            elif a == "kubelet-stage":
                # kubelet-stage PV DRIVER HANDLE [block]
                blk = i + 4 < len(actions) and actions[i + 4] == "block"
                st.setdefault("kubelet", []).append({"pv": arg(), "driver": arg(2), "handle": arg(3), "block": blk})
                i += 5 if blk else 4
            elif a == "kubelet-unstage":
                st["kubelet"] = [k for k in st.get("kubelet", []) if k["pv"] != arg()]
                i += 2
            elif a == "open":
                themap(arg())["open"] = int(arg(2))
                i += 3
            elif a == "holder":
                themap(arg())["holders"].append(arg(2))
                i += 3
            elif a == "fault":
                f = arg()
                if f not in ("slow", "hung", "garbage", "huge", "drop"):
                    raise SystemExit("farm set: fault %s can only be set at `farm up`" % f)
                st["faults"][f] = float(arg(2)) if f == "slow" else True
                i += 3 if f == "slow" else 2
            elif a == "clear-fault":
                st["faults"].pop(arg(), None)
                i += 2
            else:
                raise SystemExit("farm set: unknown action %s" % a)
        node.changed = True
        return st


def main(argv):
    op, ndir = argv[1], argv[2]
    if op == "settle":
        with Node(ndir) as node:
            settle(node)
        return 0
    if op == "exec":
        return node_exec(ndir, argv[3:])
    if op == "ghost":
        add_ghost(ndir, argv[3], argv[4])
        return 0
    if op == "kill":
        return kill_ghost(ndir, int(argv[3]))
    if op == "ps":
        with open(os.path.join(ndir, "state.json")) as f:
            sys.stdout.write(render_ps(json.load(f), int(argv[3]) if len(argv) > 3 else None))
        return 0
    sys.stderr.write("farmlib: unknown op %s\n" % op)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
