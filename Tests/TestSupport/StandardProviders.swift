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

/// The providers the CLI composes, composed the same way for tests that drive steps directly.
public func standardProviders(http: HTTPClient = HTTPClient()) -> ProviderCatalog {
    ProviderCatalog(AWSProviders.adapters(http: http) + GoogleProviders.adapters(http: http) + [PowerDNSProvider.adapter(http: http), RedisProvider.adapter, PostgresProvider.adapter, AlertmanagerProvider.adapter(http: http)])
}

/// The built-in step types over the standard providers.
public func standardRegistry(http: HTTPClient = HTTPClient()) -> StepRegistry {
    BuiltinSteps.registry(http: http, providers: standardProviders(http: http))
}
