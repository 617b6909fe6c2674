import CutoverCore
import CutoverNet
import CutoverProviders

/// The step types shipped with cutover.
public enum BuiltinSteps {
    /// Every built-in step type: the HTTP ones over `http`, the ones that change the world over
    /// the capabilities `providers` makes from runbook targets. The registry carries the
    /// providers' schemas, so definitions are checked against them when they load.
    public static func registry(http: HTTPClient, providers: ProviderCatalog) -> StepRegistry {
        StepRegistry(
            [
                AnyStepType(Wait()),
                AnyStepType(Exec()),
                AnyStepType(Approval()),
                AnyStepType(Notify(http: http)),
                AnyStepType(HTTPRequestStep(http: http)),
                AnyStepType(HealthHTTP(http: http)),
                AnyStepType(InferenceCheck(http: http)),
                AnyStepType(ReplicationCheck(providers: providers)),
                AnyStepType(ModelsVerify(providers: providers)),
                AnyStepType(ModelsSync(providers: providers)),
                AnyStepType(CapacityCheck(providers: providers)),
                AnyStepType(InstancesScale(providers: providers)),
                AnyStepType(WritesEnable(providers: providers)),
                AnyStepType(ReplicationFollow(providers: providers)),
                AnyStepType(DNSSwitch(providers: providers)),
                AnyStepType(AlertsMove(providers: providers)),
                AnyStepType(CutoverMonitor(http: http)),
                AnyStepType(ChildWorkflow()),
            ],
            providers: providers.schemas)
    }
}
