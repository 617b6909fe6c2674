import CutoverCore
import CutoverNet

/// The step types shipped with cutover.
public enum BuiltinSteps {
    /// Every built-in step type, using `http` for the ones that talk HTTP.
    public static func registry(http: HTTPClient = HTTPClient()) -> StepRegistry {
        StepRegistry([
            AnyStepType(Wait()),
            AnyStepType(Approval()),
            AnyStepType(Notify(http: http)),
            AnyStepType(HealthHTTP(http: http)),
            AnyStepType(ReplicationCheck()),
            AnyStepType(ModelsVerify(http: http)),
            AnyStepType(InstancesScale(http: http)),
            AnyStepType(WritesEnable()),
            AnyStepType(ReplicationFollow()),
            AnyStepType(DNSSwitch(http: http)),
            AnyStepType(CutoverMonitor(http: http)),
        ])
    }
}

/// Reads a duration parameter that validation already checked.
func duration(_ text: String, field: String) throws -> Duration {
    guard let d = DurationText.parse(text) else { throw StepError.badParameters("\(field): expected a duration like \"30s\", got \"\(text)\"") }
    return d
}
