import Mustache

// Field lookup by name for the rows the page repeats most (heatmap rows and cells, node
// sections, their maps and actions): mustache's default lookup reflects the value with
// Mirror on every tag, which was half of the CPU of a 1,000-node page (perf). A name a row
// does not have returns nil, so mustache looks further up, as with Mirror. ReportRenderTests
// checks that every stored property is found under its own name.

// Heatmap: every cell looks its width, height and offsets up here.
extension Heatmap: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "width": width
        case "height": height
        case "labelWidth": labelWidth
        case "gridLeft": gridLeft
        case "gridTop": gridTop
        case "gridWidth": gridWidth
        case "cellWidth": cellWidth
        case "cellHeight": cellHeight
        case "totalX": totalX
        case "byDay": byDay
        case "columnTicks": columnTicks
        case "rows": rows
        default: nil
        }
    }
}

extension HeatRow: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "rowNode": rowNode
        case "rowAnchor": rowAnchor
        case "rowY": rowY
        case "textY": textY
        case "rowTotal": rowTotal
        case "rowPeak": rowPeak
        case "cells": cells
        default: nil
        }
    }
}

extension HeatCell: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "cellX": cellX
        case "cellCls": cellCls
        case "cellCount": cellCount
        case "cellTitle": cellTitle
        default: nil
        }
    }
}

extension NodeSection: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "node": node
        case "anchor": anchor
        case "nodeStatus": nodeStatus
        case "nodeStatusCls": nodeStatusCls
        case "hasNodeError": hasNodeError
        case "nodeError": nodeError
        case "lastScan": lastScan
        case "residualObservations": residualObservations
        case "maps": maps
        case "hasMaps": hasMaps
        case "residualHistory": residualHistory
        case "hasResidualHistory": hasResidualHistory
        case "cleanups": cleanups
        case "hasCleanups": hasCleanups
        default: nil
        }
    }
}

extension MapRow: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "mapName": mapName
        case "mapWWID": mapWWID
        case "mapDM": mapDM
        case "vendorProduct": vendorProduct
        case "mapSize": mapSize
        case "verdict": verdict
        case "verdictCls": verdictCls
        case "cleanedSince": cleanedSince
        case "reasons": reasons
        default: nil
        }
    }
}

extension ResidualRow: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "resName": resName
        case "resWWID": resWWID
        case "resFirst": resFirst
        case "resLast": resLast
        case "resScans": resScans
        case "resNow": resNow
        case "resNowCls": resNowCls
        default: nil
        }
    }
}

extension CleanupGroup: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "cleanupRun": cleanupRun
        case "cleanupTime": cleanupTime
        case "cleanupMap": cleanupMap
        case "cleanupWWID": cleanupWWID
        case "cleanupOutcome": cleanupOutcome
        case "cleanupCls": cleanupCls
        case "actions": actions
        default: nil
        }
    }
}

extension ActionRow: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "command": command
        case "actionOutcome": actionOutcome
        case "actionCls": actionCls
        case "exitCode": exitCode
        case "duration": duration
        case "hasOutput": hasOutput
        case "stdout": stdout
        case "hasStdout": hasStdout
        case "stderr": stderr
        case "hasStderr": hasStderr
        case "actionReason": actionReason
        case "hasActionReason": hasActionReason
        default: nil
        }
    }
}

extension Recurring: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "recNode": recNode
        case "recAnchor": recAnchor
        case "episodes": episodes
        case "distinctWWIDs": distinctWWIDs
        case "recCleaned": recCleaned
        case "recFirst": recFirst
        case "recLast": recLast
        case "recNow": recNow
        default: nil
        }
    }
}
