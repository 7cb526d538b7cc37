/// Synthetic `multipath -ll` output (0.9.x tree format) for the parser benchmark
/// (bench/parse.sh) and tests.
public enum MultipathSample {
    /// A realistic mix: 0.9.x tree format, alias names, two paths per map, one map in ten
    /// residual (`failed faulty running`), one in ten with two path groups.
    public static func generate(maps: Int) -> String {
        var s = ""
        s.reserveCapacity(maps * 330)
        var disk = 0
        func sd(_ n: Int) -> String {
            var n = n, name = ""
            repeat { name = String(UnicodeScalar(UInt8(97 + n % 26))) + name; n = n / 26 - 1 } while n >= 0
            return "sd" + name
        }
        for i in 0..<maps {
            let hex = String(String(i, radix: 16).reversed())
            let wwid = "36001405" + hex + String(repeating: "0", count: max(0, 25 - hex.count))
            let dead = i % 10 == 3
            s += "mpath\(i) (\(wwid)) dm-\(i) LIO-ORG,lun\(i % 256)\n"
            s += "size=1.0G features='\(dead ? "0" : "1 queue_if_no_path")' hwhandler='1 alua' wp=rw\n"
            let st = dead ? "failed faulty running" : "active ready running"
            let a = sd(disk), b = sd(disk + 1)
            disk += 2
            let mm1 = "\(8 + (disk / 16) % 200):\((disk * 16) % 256)", mm2 = "\(8 + (disk / 16) % 200):\((disk * 16 + 16) % 256)"
            if i % 10 == 7 {
                s += "|-+- policy='service-time 0' prio=50 status=active\n"
                s += "| `- 6:0:0:\(i % 256) \(a) \(mm1) \(st)\n"
                s += "`-+- policy='service-time 0' prio=10 status=enabled\n"
                s += "  `- 7:0:0:\(i % 256) \(b) \(mm2) \(st)\n"
            } else {
                s += "`-+- policy='service-time 0' prio=\(dead ? 0 : 50) status=active\n"
                s += "  |- 6:0:0:\(i % 256) \(a) \(mm1) \(st)\n"
                s += "  `- 7:0:0:\(i % 256) \(b) \(mm2) \(st)\n"
            }
        }
        return s
    }
}
