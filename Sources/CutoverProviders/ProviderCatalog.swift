import CutoverCore
import Foundation

/// How an adapter reads a target's secret references (`env:NAME`, `file:/path`): through the
/// step's context, so the value is redacted wherever a message could carry it (and preflight
/// sees every reference asked for).
public struct SecretReader: Sendable {
    let ctx: any StepContext

    public init(_ ctx: any StepContext) { self.ctx = ctx }

    /// - Throws: `StepError` naming the reference when it cannot be read.
    public func callAsFunction(_ reference: String) throws -> String { try ctx.secret(reference) }

    /// An optional secret (a session token used only when it is set): nil when the reference
    /// names nothing.
    public func ifSet(_ reference: String) throws -> String? { try ctx.secretIfSet(reference) }
}

/// One provider: its target schema and the capabilities it can make from a target.
public struct ProviderAdapter: Sendable {
    public let schema: ProviderSchema
    public var instanceGroup: (@Sendable (ProviderTarget, SecretReader) throws -> any InstanceGroup)?
    public var dnsZone: (@Sendable (ProviderTarget, SecretReader) throws -> any DNSZone)?
    public var objectStore: (@Sendable (ProviderTarget, SecretReader) throws -> any ObjectStore)?
    public var replica: (@Sendable (ProviderTarget, SecretReader) throws -> any Replica)?
    public var alerting: (@Sendable (ProviderTarget, SecretReader) throws -> any Alerting)?

    public init(
        schema: ProviderSchema,
        instanceGroup: (@Sendable (ProviderTarget, SecretReader) throws -> any InstanceGroup)? = nil,
        dnsZone: (@Sendable (ProviderTarget, SecretReader) throws -> any DNSZone)? = nil,
        objectStore: (@Sendable (ProviderTarget, SecretReader) throws -> any ObjectStore)? = nil,
        replica: (@Sendable (ProviderTarget, SecretReader) throws -> any Replica)? = nil,
        alerting: (@Sendable (ProviderTarget, SecretReader) throws -> any Alerting)? = nil
    ) {
        var declared: Set<Capability> = []
        if instanceGroup != nil { declared.insert(.instanceGroup) }
        if dnsZone != nil { declared.insert(.dnsZone) }
        if objectStore != nil { declared.insert(.objectStore) }
        if replica != nil { declared.insert(.replica) }
        if alerting != nil { declared.insert(.alerting) }
        precondition(declared == schema.capabilities, "provider \(schema.name) makes \(declared) but its schema says \(schema.capabilities)")
        self.schema = schema
        self.instanceGroup = instanceGroup
        self.dnsZone = dnsZone
        self.objectStore = objectStore
        self.replica = replica
        self.alerting = alerting
    }
}

/// The providers of this build, chosen by the composition root (the CLI): what steps turn
/// targets into capabilities with. Steps never name a vendor.
public struct ProviderCatalog: Sendable {
    private var adapters: [String: ProviderAdapter] = [:]
    /// What validation checks runbook targets against.
    public let schemas: ProviderSchemas

    public init(_ adapters: [ProviderAdapter]) {
        for a in adapters { self.adapters[a.schema.name] = a }
        schemas = ProviderSchemas(adapters.map(\.schema))
    }

    public func instanceGroup(_ target: ProviderTarget, _ ctx: any StepContext) throws -> any InstanceGroup {
        try make(target, .instanceGroup, \.instanceGroup, ctx)
    }

    public func dnsZone(_ target: ProviderTarget, _ ctx: any StepContext) throws -> any DNSZone {
        try make(target, .dnsZone, \.dnsZone, ctx)
    }

    public func objectStore(_ target: ProviderTarget, _ ctx: any StepContext) throws -> any ObjectStore {
        try make(target, .objectStore, \.objectStore, ctx)
    }

    public func replica(_ target: ProviderTarget, _ ctx: any StepContext) throws -> any Replica {
        try make(target, .replica, \.replica, ctx)
    }

    public func alerting(_ target: ProviderTarget, _ ctx: any StepContext) throws -> any Alerting {
        try make(target, .alerting, \.alerting, ctx)
    }

    /// The resource a target names, made as a step makes it for `capability`: what preflight
    /// connects to and reads.
    public func resource(_ target: ProviderTarget, as capability: Capability, _ ctx: any StepContext) throws -> any ProviderResource {
        switch capability {
        case .instanceGroup: try instanceGroup(target, ctx)
        case .dnsZone: try dnsZone(target, ctx)
        case .objectStore: try objectStore(target, ctx)
        case .replica: try replica(target, ctx)
        case .alerting: try alerting(target, ctx)
        default: throw StepError.badParameters("no provider makes \(capability.noun)")
        }
    }

    /// Checks the target again (the run resolved it from the snapshot), then makes the capability.
    private func make<C>(
        _ target: ProviderTarget, _ capability: Capability,
        _ factory: KeyPath<ProviderAdapter, (@Sendable (ProviderTarget, SecretReader) throws -> C)?>, _ ctx: any StepContext
    ) throws -> C {
        var object = target.fields
        object["provider"] = .string(target.provider)
        let problems = schemas.problems(in: object, at: "", needing: capability)
        if let first = problems.first {
            throw StepError.badParameters("\(target.provider) target: \(first.path.isEmpty ? "" : "\(first.path): ")\(first.message)")
        }
        guard let make = adapters[target.provider]?[keyPath: factory] else {
            throw StepError.badParameters("provider \(target.provider) is not \(capability.noun)")
        }
        return try make(target, SecretReader(ctx))
    }
}

/// Polls `check` every `interval` until it returns a value or `deadline` passes; the waits
/// go through the context, so pause and abort signals are read meanwhile.
public func poll<T>(
    _ ctx: any StepContext, every interval: Duration, until deadline: Date, _ check: () async throws -> T?
) async throws -> T? {
    while true {
        if let v = try await check() { return v }
        let next = ctx.now().addingTimeInterval(Double(interval.milliseconds) / 1_000)
        if next > deadline { return nil }
        try await ctx.sleep(until: next)
    }
}

extension Date {
    public func adding(_ d: Duration) -> Date { addingTimeInterval(Double(d.milliseconds) / 1_000) }
}

/// `name` with its final dot.
public func fqdn(_ name: String) -> String { name.hasSuffix(".") ? name : name + "." }
