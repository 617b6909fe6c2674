import CutoverAWS
import CutoverAlertmanager
import CutoverCore
import CutoverGoogle
import CutoverNet
import CutoverPostgres
import CutoverPowerDNS
import CutoverProviders
import CutoverRedis
import CutoverSteps

/// The composition root: the one place that names concrete providers (and, in `Context`,
/// the store). Step types see only the capabilities; a new cloud joins here.
enum Composition {
    static func providers(http: HTTPClient) -> ProviderCatalog {
        ProviderCatalog(AWSProviders.adapters(http: http) + GoogleProviders.adapters(http: http) + [PowerDNSProvider.adapter(http: http), RedisProvider.adapter, PostgresProvider.adapter, AlertmanagerProvider.adapter(http: http)])
    }

    /// The secret managers a step's `aws-sm:` and `gcp-sm:` references are read from, as this
    /// process's own cloud identities (`environment`).
    static func secretSources(environment: [String: String], http: HTTPClient = HTTPClient()) -> [any SecretSource] {
        [AWSSecretsManager(http: http, environment: environment), GoogleSecretManager(http: http, environment: environment)]
    }

    /// The safety rules' evaluator over `log` (the change-rate rule counts from it).
    static func safety(log: any EventStore) -> any SafetyEvaluating {
        let http = HTTPClient()
        return StandardSafetyRules(http: http, providers: providers(http: http), log: log)
    }

    static func registry() -> StepRegistry {
        let http = HTTPClient()
        return BuiltinSteps.registry(http: http, providers: providers(http: http))
    }
}
