import CutoverCore
import Foundation

/// One self-contained HTML page for auditors: the run's summary, the drill report, a timeline
/// drawn as SVG (one bar per step attempt, compensation in another colour, the pivot marked),
/// approvals and signals with who and when, and the verification result. No script, no
/// outside resource: it opens the same in any browser, years later.
public enum HTMLReport {
    public static func render(state: RunState, timeline: Timeline, report: DrillReport?, changes: [StepChange], verification: VerifyReport) -> String {
        let plan = state.plan
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>cutover run \(esc(state.runID))</title>
            <style>
            body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;color:#1d232b;padding:0 1rem}
            h1{font-size:1.4rem;margin:0 0 .2rem} h2{font-size:1.05rem;margin:2rem 0 .6rem;border-bottom:1px solid #dde2e8;padding-bottom:.3rem}
            .sub{color:#5b6673} table{border-collapse:collapse;width:100%} td,th{padding:.3rem .6rem;border-bottom:1px solid #eef1f4;text-align:left;vertical-align:top}
            th{font-weight:600;color:#5b6673;font-size:.85rem} .pill{display:inline-block;border-radius:999px;padding:.05rem .6rem;font-weight:600;font-size:.85rem}
            .ok{background:#e3f5e8;color:#17632f} .bad{background:#fde7e7;color:#9b1c1c} .warn{background:#fff4d6;color:#7a5200} .muted{color:#5b6673}
            svg text{font:12px system-ui,sans-serif;fill:#1d232b} .legend span{margin-right:1rem;line-height:1.8} .sw{display:inline-block;width:.9rem;height:.9rem;border-radius:2px;vertical-align:-2px;margin-right:.3rem}
            .dash{display:inline-block;width:1.4rem;height:0;border-top:2px dashed;vertical-align:middle;margin-right:.3rem} h3{font-size:.9rem;font-weight:600;margin:1rem 0 .3rem}
            code{font:12px ui-monospace,monospace;background:#f3f5f7;padding:.05rem .3rem;border-radius:3px}
            </style></head><body>
            <h1>\(esc(plan?.workflow ?? "run")) for \(esc(plan?.scope ?? "")) <span class="pill \(tone(state.verdict.tone))" id="verdict">\(esc(state.verdict.text))</span></h1>
            <div class="sub">run <code>\(esc(state.runID))</code> · \(esc(plan?.mode.rawValue ?? "")) · started \(iso(state.startedAtMillis)) by \(esc(plan?.startedBy ?? "")) · \(state.lastRunSeq) events</div>

            """
        h += "<h2>Who and what</h2><table>"
        h += row("Started by", esc(plan?.startedBy ?? ""))
        let approvers = state.orderedSteps.filter { $0.approvalRequest != nil }.map { s in
            "\(esc(s.id)): " + (state.countedApprovers(s.id).isEmpty ? "<span class=\"muted\">no approval counted</span>" : state.countedApprovers(s.id).map(esc).joined(separator: ", "))
        }
        h += row("Approved by", approvers.isEmpty ? "<span class=\"muted\">no approval step</span>" : approvers.joined(separator: "<br>"))
        h += row("Workflow", "\(esc(plan?.workflow ?? "")) <code>sha256 \(esc(plan?.workflowDigest ?? ""))</code>")
        h += row("Runbook", "\(esc(plan?.scope ?? "")) <code>sha256 \(esc(plan?.runbookDigest ?? ""))</code>")
        h += "</table>"
        h += "<h2>What changed</h2>"
        if changes.isEmpty {
            h += "<p class=\"muted\">Nothing: no step that changes something succeeded.</p>"
        } else {
            h += "<table id=\"changes\"><tr><th>step</th><th>type</th><th>before → after</th><th>now</th></tr>"
            for c in changes {
                h += "<tr data-step=\"\(esc(c.step))\"><td><code>\(esc(c.step))</code></td><td>\(esc(c.type))</td><td>\(esc(c.text))</td><td>\(c.undone ? "<span class=\"pill ok\">undone</span>" : "<span class=\"pill warn\">in place</span>")</td></tr>"
            }
            h += "</table>"
        }
        h += "<h2>Outcome</h2><table>"
        if let reason = state.outcome?.reason ?? state.attention?.reason { h += row("What happened", esc(reason)) }
        if let a = state.attention { h += row("Decision needed", esc(a.decision)) }
        if state.outcome?.planned == true { h += row("Rollback", "planned: the drill rolled everything back on purpose") }
        h += row("Duration", esc(DurationText.format(.milliseconds((state.lastEventMillis ?? 0) - (state.startedAtMillis ?? 0)))))
        h += "</table>"
        if let report {
            h += "<h2>Drill report</h2><table>"
            h += row("RTO", measure(report.rtoMillis.map { $0 - report.approvalMillis }, report.rtoTargetMillis, report.rtoPass, extra: report.rtoMillis == nil ? "not measured" : "until \(report.rtoUntil)" + (report.approvalMillis > 0 ? "; plus \(DurationText.format(.milliseconds(report.approvalMillis))) waiting for approval" : "")))
            h += row("RPO", measure(report.rpoMillis, report.rpoTargetMillis, report.rpoPass, extra: report.rpoBasis ?? "not measured"))
            h += "</table>"
        }
        // The rollback gets its own scale: it takes seconds where the run took minutes, and
        // would be a sliver at the end of one axis.
        let rollbackStart = timeline.marks.first { $0.kind == .rollback }?.atMillis
        h += "<h2>Timeline</h2>" + svg(timeline, plan: plan, from: timeline.startMillis, to: rollbackStart ?? timeline.endMillis, kinds: [.attempt], label: "run")
        if let rollbackStart {
            h += "<h3 class=\"muted\">Rollback, on its own scale</h3>" + svg(timeline, plan: plan, from: rollbackStart, to: timeline.endMillis, kinds: [.compensation], label: "rollback")
        }
        h += """
            <div class="legend muted" id="legend"><span><i class="sw" style="background:#2f7d4f"></i>attempt succeeded</span><span><i class="sw" style="background:#c0392b"></i>failed</span><span><i class="sw" style="background:#e0a030"></i>failed, retried</span><span><i class="sw" style="background:#8a94a3"></i>interrupted</span><span><i class="sw" style="background:#9db9e8"></i>waiting for approval</span><span><i class="sw" style="background:#7d4fb0"></i>compensation (undo)</span><br><span><i class="dash" style="border-color:#d03a8c"></i>pivot step started (◆)</span><span><i class="dash" style="border-color:#3a6fd0"></i>an approval given</span><span><i class="dash" style="border-color:#7d4fb0"></i>rollback started</span></div>
            """
        h += "<h2>Steps</h2><table><tr><th>step</th><th>type</th><th>state</th><th>attempts</th><th>undo</th></tr>"
        for s in state.orderedSteps {
            let p = state.planned(s.id)
            h += "<tr><td><code>\(esc(s.id))</code></td><td>\(esc(p?.type ?? ""))\(p?.pivot == true ? " <span class=\"pill warn\">pivot</span>" : "")</td><td>\(esc(s.phase.rawValue))</td><td>\(s.attempts)</td><td>\(p?.isCompensable == true ? esc(s.compensation.rawValue) : "")</td></tr>"
        }
        h += "</table><h2>Approvals and signals</h2>"
        let people = timeline.marks.filter { $0.kind == .approval || $0.kind == .signal || $0.kind == .rollback }
        if people.isEmpty {
            h += "<p class=\"muted\">None.</p>"
        } else {
            h += "<table><tr><th>when</th><th>who</th><th>what</th></tr>"
            for m in people { h += "<tr><td>\(iso(m.atMillis))</td><td>\(esc(m.actor))</td><td>\(esc(m.text))</td></tr>" }
            h += "</table>"
        }
        h += "<h2>Verification</h2><table>"
        h += row("Result", verification.intact ? "<span class=\"pill ok\">intact</span>" : "<span class=\"pill bad\">broken</span> " + esc(verification.findings.first?.description ?? ""))
        h += row("Chain", "\(verification.events) events recomputed (\(verification.firstSeq ?? 0)...\(verification.lastSeq ?? 0)), \(verification.checkpoints) checkpoint(s)")
        h += row("Signatures", verification.signaturesChecked ? "checked with \(esc(verification.key ?? ""))" : "<span class=\"pill warn\">not checked</span> no public key was given")
        h += "</table><p class=\"muted\">Made by cutover from the event log; re-check with <code>cutover audit verify --run \(esc(state.runID))</code>.</p></body></html>\n"
        return h
    }

    /// The bars of `kinds` between `from` and `to`, on an axis of that span, with the marks in it.
    static func svg(_ t: Timeline, plan: RunStarted?, from: Int64, to: Int64, kinds: Set<Timeline.Bar.Kind>, label: String) -> String {
        let left = 170.0, width = 880.0, rowH = 26.0, top = 24.0
        let span = Double(max(1, to - from))
        let x = { (ms: Int64) in left + Double(min(max(ms, from), to) - from) / span * width }
        let shown = t.bars.filter { kinds.contains($0.kind) }
        let rows = t.steps.filter { step in shown.contains { $0.step == step } }
        let height = top + Double(rows.count) * rowH + 20
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" class=\"timeline-\(label)\" aria-label=\"\(label) timeline of \(esc(t.runID))\" width=\"100%\" viewBox=\"0 0 \(Int(left + width + 40)) \(Int(height))\">"
        for tick in 0...4 {
            let ms = from + Int64(Double(tick) / 4 * span)
            s += "<line x1=\"\(f(x(ms)))\" y1=\"\(f(top - 6))\" x2=\"\(f(x(ms)))\" y2=\"\(f(height - 14))\" stroke=\"#eef1f4\"/>"
            s += "<text x=\"\(f(x(ms)))\" y=\"14\" text-anchor=\"middle\" class=\"muted\">+\(esc(DurationText.format(.milliseconds(ms - t.startMillis))))</text>"
        }
        for (i, step) in rows.enumerated() {
            let y = top + Double(i) * rowH
            let pivot = plan?.steps.first { $0.id == step }?.pivot == true
            s += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 15))\" text-anchor=\"end\">\(esc(step))\(pivot ? " ◆" : "")</text>"
        }
        for bar in shown {
            guard let i = rows.firstIndex(of: bar.step) else { continue }
            let y = top + Double(i) * rowH + (bar.kind == .compensation ? 13 : 3)
            let h = bar.kind == .compensation ? 9.0 : 10.0
            // At least 3 units wide, kept inside the axis.
            let w = max(3, x(bar.endMillis) - x(bar.startMillis))
            let x0 = min(x(bar.startMillis), left + width - w)
            let fill: String
            switch (bar.kind, bar.outcome) {
            case (.compensation, _): fill = "#7d4fb0"
            case (_, .succeeded): fill = bar.waitingForApproval ? "#9db9e8" : "#2f7d4f"
            case (_, .failed): fill = "#c0392b"
            case (_, .retrying): fill = "#e0a030"
            case (_, .interrupted): fill = "#8a94a3"
            case (_, .running): fill = bar.waitingForApproval ? "#9db9e8" : "#5b8def"
            }
            let title = "\(bar.step) \(bar.kind == .compensation ? "compensation" : "attempt") \(bar.attempt): \(bar.outcome.rawValue) in \(DurationText.format(.milliseconds(bar.endMillis - bar.startMillis)))" + (bar.note.map { " — \($0)" } ?? "")
            s += "<rect class=\"\(bar.kind.rawValue)\" data-step=\"\(esc(bar.step))\" data-attempt=\"\(bar.attempt)\" x=\"\(f(x0))\" y=\"\(f(y))\" width=\"\(f(w))\" height=\"\(f(h))\" rx=\"2\" fill=\"\(fill)\"><title>\(esc(title))</title></rect>"
        }
        for m in t.marks where (m.kind == .pivot || m.kind == .rollback || m.kind == .approval) && m.atMillis >= from && m.atMillis <= to {
            let color = m.kind == .pivot ? "#d03a8c" : m.kind == .rollback ? "#7d4fb0" : "#3a6fd0"
            s += "<line class=\"mark-\(m.kind.rawValue)\" x1=\"\(f(x(m.atMillis)))\" y1=\"\(f(top - 4))\" x2=\"\(f(x(m.atMillis)))\" y2=\"\(f(height - 14))\" stroke=\"\(color)\" stroke-dasharray=\"4 3\"><title>\(esc(m.actor)): \(esc(m.text)) at \(iso(m.atMillis))</title></line>"
        }
        return s + "</svg>"
    }

    static func measure(_ value: Int64?, _ target: Int64?, _ pass: Bool?, extra: String) -> String {
        guard let value else { return "<span class=\"muted\">\(esc(extra))</span>" }
        var out = "<b>\(esc(DurationText.format(.milliseconds(value))))</b>"
        if let target { out += " against \(esc(DurationText.format(.milliseconds(target))))" }
        if let pass { out += pass ? " <span class=\"pill ok\">pass</span>" : " <span class=\"pill bad\">fail</span>" }
        return out + " <span class=\"muted\">\(esc(extra))</span>"
    }

    static func row(_ k: String, _ v: String) -> String { "<tr><th>\(esc(k))</th><td>\(v)</td></tr>" }

    static func tone(_ t: RunVerdict.Tone) -> String {
        switch t {
        case .good: "ok"
        case .bad: "bad"
        case .waiting, .busy: "warn"
        }
    }

    static func f(_ d: Double) -> String { String(format: "%.1f", d) }

    static func iso(_ ms: Int64?) -> String { ms.map(TimeText.rfc3339) ?? "" }

    static func esc(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
