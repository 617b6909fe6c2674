/// What a failover or drill measured, from the log alone.
public struct RecoveryMeasurement: Sendable, Equatable {
    /// From the run's start to the step that marks recovery finishing.
    public var rtoMillis: Int64
    /// Part of `rtoMillis` spent waiting for people to approve.
    public var approvalMillis: Int64
    /// The step whose success ended the clock: the monitor, else the last DNS switch.
    public var endStep: String
    /// Replication lag measured before the pivot, when a replication check ran.
    public var lagMillis: Int64?
}

extension RunState {
    /// Recovery time as the run measured it: start to the cutover monitor passing (or, without
    /// a monitor, to the last DNS switch), with approval waits counted apart. Nil until then.
    public var recovery: RecoveryMeasurement? {
        guard let plan, let start = startedAtMillis else { return nil }
        let done = orderedSteps.filter { $0.phase == .succeeded }
        let type = { (id: String) in plan.steps.first { $0.id == id }?.type }
        guard let end = done.last(where: { type($0.id) == "cutover.monitor" }) ?? done.last(where: { type($0.id) == "dns.switch" }),
            let finished = end.finishedMillis
        else { return nil }
        let approvals = done.filter { type($0.id) == "approval" && ($0.finishedMillis ?? 0) <= finished }
            .reduce(Int64(0)) { $0 + (($1.finishedMillis ?? 0) - ($1.firstStartedMillis ?? 0)) }
        let lag = done.last { type($0.id) == "replication.check" }?.output?["lagMillis"]?.intValue
        return RecoveryMeasurement(rtoMillis: finished - start, approvalMillis: approvals, endStep: end.id, lagMillis: lag)
    }
}
