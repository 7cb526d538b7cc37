import Foundation
import FleetStore

/// Geometry of the two inline SVG charts, computed here so the template only places numbers.
enum Charts {
    // MARK: - Heatmap

    static func heatmap(rows: [(node: String, anchor: String, history: NodeHistory)], columns: Columns) -> Heatmap {
        let labelWidth = 150
        let cellWidth = max(3, min(36, 760 / max(1, columns.count)))
        let cellHeight = 16
        let gridTop = 24
        let gridWidth = cellWidth * columns.count
        let totalX = labelWidth + gridWidth + 16
        var out: [HeatRow] = []
        out.reserveCapacity(rows.count)
        for (i, r) in rows.enumerated() {
            let y = gridTop + i * cellHeight
            var cells: [HeatCell] = []
            var peak = 0
            for (c, v) in r.history.cells.enumerated() {
                let x = labelWidth + c * cellWidth
                let title = "\(r.node) · \(columns.titles[c])"
                switch v {
                case NodeHistory.noScan:
                    cells.append(HeatCell(cellX: x, cellCls: "hn", cellCount: "", cellTitle: "\(title): not scanned"))
                case NodeHistory.unreachable:
                    cells.append(HeatCell(cellX: x, cellCls: "hu", cellCount: "", cellTitle: "\(title): not reached"))
                case 0:
                    break  // the row's background says "scanned, nothing residual"
                default:
                    peak = max(peak, v)
                    cells.append(HeatCell(cellX: x, cellCls: "h\(min(v, 4))", cellCount: String(v),
                                          cellTitle: "\(title): \(v) residual map\(v == 1 ? "" : "s")"))
                }
            }
            out.append(HeatRow(rowNode: r.node, rowAnchor: r.anchor, rowY: y, textY: y + cellHeight - 3,
                               rowTotal: r.history.total, rowPeak: peak, cells: cells))
        }
        return Heatmap(width: totalX + 48, height: gridTop + rows.count * cellHeight + 4, labelWidth: labelWidth,
                       gridLeft: labelWidth, gridTop: gridTop, gridWidth: gridWidth, cellWidth: max(1, cellWidth - 1),
                       cellHeight: cellHeight - 1, totalX: totalX, byDay: columns.byDay,
                       columnTicks: ticks(columns, left: labelWidth, step: Double(cellWidth), y: gridTop - 8),
                       rows: out)
    }

    /// About six labels along a column axis, always the first and the last.
    static func ticks(_ columns: Columns, left: Int, step: Double, y: Int) -> [Tick] {
        guard columns.count > 0 else { return [] }
        let every = max(1, Int((Double(columns.count) / 6).rounded(.up)))
        var idx = Array(stride(from: 0, to: columns.count, by: every))
        if let last = idx.last, columns.count - 1 - last < every / 2, last != 0 { idx.removeLast() }
        if idx.last != columns.count - 1 { idx.append(columns.count - 1) }
        return idx.map { Tick(tickX: left + Int((Double($0) + 0.5) * step), tickY: y, tickText: columns.labels[$0]) }
    }

    // MARK: - Trend

    /// Residual maps fleet-wide per column (each node counted at its worst scan there) as a
    /// line, and per column the maps cleaned (and failed) as bars, on one count axis.
    static func trend(nodes: [String: NodeHistory], cleanups: [MapCleanupRecord], columns: Columns) -> Trend {
        var residual = Array(repeating: 0, count: columns.count)
        for h in nodes.values { for (c, v) in h.cells.enumerated() where v > 0 { residual[c] += v } }
        var cleaned = Array(repeating: 0, count: columns.count)
        var failed = Array(repeating: 0, count: columns.count)
        for c in cleanups {
            guard let col = columns.columnOfRun[c.runID] else { continue }
            switch c.outcome {
            case .cleaned: cleaned[col] += 1
            case .failed: failed[col] += 1
            case .aborted, .unfinished: break
            }
        }
        let width = 920, height = 240
        let left = 52, right = width - 16, top = 16, bottom = height - 34
        let top1 = max(1, residual.max() ?? 0, zip(cleaned, failed).map(+).max() ?? 0)
        let yMax = niceCeiling(top1)
        let step = Double(right - left) / Double(max(1, columns.count))
        func x(_ c: Int) -> Double { Double(left) + (Double(c) + 0.5) * step }
        func y(_ v: Int) -> Double { Double(bottom) - Double(v) / Double(yMax) * Double(bottom - top) }
        func f(_ d: Double) -> String { String(format: "%.1f", d) }

        let points = residual.indices.map { "\(f(x($0))),\(f(y(residual[$0])))" }.joined(separator: " ")
        let dots = columns.count > 60 ? [] : residual.indices.map {
            Dot(dotX: f(x($0)), dotY: f(y(residual[$0])), dotTitle: "\(columns.titles[$0]): \(residual[$0]) residual")
        }
        var bars: [Bar] = []
        let barWidth = max(1, min(36, step * 0.6))
        for c in 0..<columns.count {
            if cleaned[c] > 0 {
                bars.append(Bar(barX: f(x(c) - barWidth / 2), barY: f(y(cleaned[c])), barWidth: f(barWidth),
                                barHeight: f(Double(bottom) - y(cleaned[c])), barCls: "b-cleaned",
                                barTitle: "\(columns.titles[c]): \(cleaned[c]) cleaned"))
            }
            if failed[c] > 0 {
                let base = y(cleaned[c]), topY = y(cleaned[c] + failed[c])
                bars.append(Bar(barX: f(x(c) - barWidth / 2), barY: f(topY), barWidth: f(barWidth),
                                barHeight: f(base - topY), barCls: "b-failed",
                                barTitle: "\(columns.titles[c]): \(failed[c]) cleanup\(failed[c] == 1 ? "" : "s") failed"))
            }
        }
        let yTicks = [0, yMax / 2, yMax].reduce(into: [Int]()) { if !$0.contains($1) { $0.append($1) } }
            .map { Tick(tickX: left - 6, tickY: Int(y($0).rounded()) + 4, tickText: String($0)) }
        return Trend(trendByDay: columns.byDay, width: width, height: height, plotLeft: left, plotRight: right, plotTop: top, plotBottom: bottom,
                     residualPoints: points, residualDots: dots, bars: bars, yTicks: yTicks,
                     xTicks: ticks(columns, left: left, step: step, y: bottom + 18),
                     residualLatest: residual.last ?? 0, residualPeak: residual.max() ?? 0,
                     cleanedTotal: cleaned.reduce(0, +), failedTotal: failed.reduce(0, +))
    }

    /// 1, 2, 5 × 10^k at or above `v` (an even axis top).
    static func niceCeiling(_ v: Int) -> Int {
        var p = 1
        while true {
            for m in [1, 2, 5] where m * p >= v { return max(2, m * p) }
            p *= 10
        }
    }
}
