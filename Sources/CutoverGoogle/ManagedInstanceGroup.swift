import CutoverCore
import CutoverProviders
import Foundation

/// A Compute Engine managed instance group, zonal or regional (`instanceGroupManagers.get`,
/// `resize`, `listManagedInstances`, the operation's `wait`).
///
/// Google's resize operation is DONE when the resize is *scheduled*: instances exist later.
/// `size` therefore counts the managed instances that run with no action pending, and reads
/// their last attempt's errors: a GPU stock-out or a quota reached is a stall, named at once
/// instead of waited out (a MIG retries forever).
struct ManagedInstanceGroup: InstanceGroup {
    enum Location: Sendable {
        case zone(String)
        case region(String)
    }

    let api: GoogleAPI
    let project: String
    let location: Location
    let name: String
    /// How long `resize` waits for its operation (each `wait` returns within two minutes).
    var operationLimit: Duration = .seconds(600)

    /// Errors of an instance's last attempt that waiting will not cure.
    static let stallCodes: Set<String> = [
        "ZONE_RESOURCE_POOL_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", "QUOTA_EXCEEDED", "REGION_RESOURCE_POOL_EXHAUSTED",
    ]

    var place: String {
        switch location {
        case .zone(let z): z
        case .region(let r): r
        }
    }

    var target: String { "Compute Engine group \(name) in \(place) (project \(project))" }
    var endpoints: [String] { api.endpoints }

    /// `projects/p/zones/z` or `projects/p/regions/r`.
    var scope: String {
        switch location {
        case .zone(let z): "projects/\(project)/zones/\(z)"
        case .region(let r): "projects/\(project)/regions/\(r)"
        }
    }

    var path: String { "\(scope)/instanceGroupManagers/\(name)" }

    /// The region whose quotas the group draws on.
    var region: String {
        switch location {
        case .zone(let z): z.split(separator: "-").dropLast().joined(separator: "-")
        case .region(let r): r
        }
    }

    /// Google's bound on a group's size: 1,000 instances zonal, 2,000 regional.
    var maxSize: Int {
        switch location {
        case .zone: 1_000
        case .region: 2_000
        }
    }

    func size() async throws -> GroupSize {
        let igm = try await api.call("GET", path, what: "reading \(target)")
        guard let targetSize = igm["targetSize"]?.intValue else { throw garbage("instanceGroupManagers.get has no targetSize") }
        let instances = try await managedInstances()
        let running = instances.filter { $0["instanceStatus"]?.stringValue == "RUNNING" && ($0["currentAction"]?.stringValue ?? "NONE") == "NONE" }
        return GroupSize(desired: Int(targetSize), min: 0, max: maxSize, running: running.count, total: instances.count, stall: stall(instances))
    }

    /// The first instance being created that Google cannot start, as a step error.
    private func stall(_ instances: [JSONValue]) -> StepError? {
        for i in instances where (i["currentAction"]?.stringValue ?? "NONE") != "NONE" {
            for e in i["lastAttempt"]?["errors"]?["errors"]?.arrayValue ?? [] {
                guard let code = e["code"]?.stringValue, Self.stallCodes.contains(code) else { continue }
                let instance = i["name"]?.stringValue ?? i["instance"]?.stringValue.map { String($0.split(separator: "/").last ?? "") } ?? "an instance"
                let what = code == "QUOTA_EXCEEDED" ? "a quota of the region is used up" : "the zone has none of this machine type to give now"
                let advice = code == "QUOTA_EXCEEDED"
                    ? "ask for a quota increase, or lower the capacity"
                    : "fail over to a group in another zone or region, or try again later"
                return StepError(
                    code: "gcp-\(code)",
                    message: "\(target): instance \(TerminalText.escaped(String(instance.prefix(63)))) cannot start, \(what) (\(code): \(TerminalText.escaped(String((e["message"]?.stringValue ?? "").prefix(300))))); \(advice)",
                    retryable: false)
            }
        }
        return nil
    }

    /// Every managed instance, page by page.
    private func managedInstances() async throws -> [JSONValue] {
        var all: [JSONValue] = []
        var pageToken: String?
        for _ in 0..<50 {
            var query = [("maxResults", "500")]
            if let pageToken { query.append(("pageToken", pageToken)) }
            let page = try await api.call("POST", "\(path)/listManagedInstances", query: query, what: "listing the instances of \(target)")
            all += page["managedInstances"]?.arrayValue ?? []
            guard let next = page["nextPageToken"]?.stringValue, !next.isEmpty else { return all }
            pageToken = next
        }
        throw garbage("listManagedInstances gave more than 50 pages")
    }

    func resize(to capacity: Int, _ proof: RunProof) async throws {
        let what = "resizing \(target) to \(capacity)"
        try proof.check(doing: what)
        // A request id per call: Google ignores a duplicate delivery of this request (a resize is
        // absolute, so a second call with the same size is harmless anyway).
        let op = try await api.call(
            "POST", "\(path)/resize", query: [("size", String(capacity)), ("requestId", UUID().uuidString.lowercased())], what: what,
            gate: proof.gate(doing: what))
        try await finish(op, what: what)
    }

    /// Waits on an operation until it is DONE (`wait` may return before; it is asked again),
    /// and throws the operation's own error.
    private func finish(_ first: JSONValue, what: String) async throws {
        var op = first
        let deadline = api.clock().addingTimeInterval(Double(operationLimit.milliseconds) / 1_000)
        while op["status"]?.stringValue != "DONE" {
            guard let opName = op["name"]?.stringValue, GoogleNames.isSegment(opName) else {
                throw garbage("\(what): the operation has no usable name")
            }
            guard api.clock() < deadline else {
                throw GoogleError(
                    code: "operation-timeout",
                    message: "\(what): operation \(opName) is still \(op["status"]?.stringValue ?? "not done") after \(DurationText.format(operationLimit)); look at it with gcloud compute operations describe \(opName)",
                    status: nil, retryable: true)
            }
            op = try await api.call("POST", "\(scope)/operations/\(opName)/wait", what: "waiting for operation \(opName)", timeout: .seconds(150))
        }
        if let e = op["error"]?["errors"]?.arrayValue?.first {
            let code = e["code"]?.stringValue.flatMap { GoogleAPI.isCode($0) ? $0 : nil } ?? "operation-failed"
            throw GoogleError(
                code: code, message: "\(what): the operation failed: \(TerminalText.escaped(String((e["message"]?.stringValue ?? code).prefix(300))))",
                status: op["httpErrorStatusCode"]?.intValue.map(Int.init), retryable: false)
        }
    }

    /// What growing to `capacity` takes from the region's quotas (CPUs of the machine family,
    /// GPUs by type, instances), read from the group's template and machine type, against the
    /// limits less the usage; and the group's own bound.
    func capacityLimits(toReach capacity: Int) async throws -> [CapacityLimit] {
        let igm = try await api.call("GET", path, what: "reading \(target)")
        guard let templateURL = igm["instanceTemplate"]?.stringValue ?? igm["versions"]?.arrayValue?.first?["instanceTemplate"]?.stringValue,
            let templatePath = GoogleAPI.resourcePath(templateURL, basePath: "compute/v1/")
        else { throw garbage("the group names no instance template cutover can read") }
        let template = try await api.call("GET", templatePath, what: "reading the instance template of \(target)")
        let properties = template["properties"]
        guard let machineTypeRef = properties?["machineType"]?.stringValue,
            let machineType = machineTypeRef.split(separator: "/").last.map(String.init), GoogleNames.isSegment(machineType)
        else { throw garbage("instance template \(templatePath) has no machine type") }
        let regionInfo = try await api.call("GET", "projects/\(project)/regions/\(region)", what: "reading the quotas of region \(region)")
        let machineZone: String
        switch location {
        case .zone(let z): machineZone = z
        case .region:
            // The zones the group spreads over (its distribution policy), else the region's.
            let spread = igm["distributionPolicy"]?["zones"]?.arrayValue?.compactMap { $0["zone"]?.stringValue } ?? []
            let listed = regionInfo["zones"]?.arrayValue?.compactMap(\.stringValue) ?? []
            guard let z = (spread + listed).compactMap({ $0.split(separator: "/").last.map(String.init) }).first(where: GoogleNames.isSegment) else {
                throw garbage("region \(region) lists no zones")
            }
            machineZone = z
        }
        let mt = try await api.call("GET", "projects/\(project)/zones/\(machineZone)/machineTypes/\(machineType)", what: "reading machine type \(machineType)")
        guard let cpus = mt["guestCpus"]?.intValue else { throw garbage("machine type \(machineType) has no guestCpus") }

        var quotas: [String: (limit: Double, usage: Double)] = [:]
        for q in regionInfo["quotas"]?.arrayValue ?? [] {
            if let m = q["metric"]?.stringValue, let l = q["limit"]?.doubleValue, let u = q["usage"]?.doubleValue { quotas[m] = (l, u) }
        }
        let scheduling = properties?["scheduling"]
        let preemptible = scheduling?["preemptible"]?.boolValue == true || scheduling?["provisioningModel"]?.stringValue == "SPOT"
        func metric(_ base: String) -> String { preemptible && quotas["PREEMPTIBLE_" + base] != nil ? "PREEMPTIBLE_" + base : base }

        var perInstance: [String: Int] = [:]
        let family = machineType.split(separator: "-").first.map { $0.uppercased() + "_CPUS" } ?? "CPUS"
        perInstance[metric(quotas[family] != nil ? family : "CPUS"), default: 0] += Int(cpus)
        for a in mt["accelerators"]?.arrayValue ?? [] {
            if let type = a["guestAcceleratorType"]?.stringValue, let n = a["guestAcceleratorCount"]?.intValue {
                perInstance[metric(Self.quotaMetric(accelerator: type)), default: 0] += Int(n)
            }
        }
        // A machine type with GPUs built in (A2, A3, G2) is the whole story; a template made from
        // such an instance may list them again as guest accelerators.
        let builtIn = !(mt["accelerators"]?.arrayValue ?? []).isEmpty
        for a in builtIn ? [] : properties?["guestAccelerators"]?.arrayValue ?? [] {
            if let ref = a["acceleratorType"]?.stringValue, let type = ref.split(separator: "/").last, let n = a["acceleratorCount"]?.intValue {
                perInstance[metric(Self.quotaMetric(accelerator: String(type))), default: 0] += Int(n)
            }
        }
        if quotas["INSTANCES"] != nil { perInstance["INSTANCES", default: 0] += 1 }

        // Usage already counts the instances the group has; only the ones to add need quota.
        let added = max(0, capacity - (try await managedInstances().count))
        var limits = [CapacityLimit(limit: "maximum size of \(target)", needed: capacity, available: maxSize)]
        for (m, each) in perInstance.sorted(by: { $0.key < $1.key }) {
            let available = quotas[m].map { Int(($0.limit - $0.usage).rounded(.down)) }
            limits.append(CapacityLimit(limit: "quota \(m) in \(region) (\(each) per \(machineType) instance)", needed: each * added, available: available))
        }
        return limits
    }

    /// The regional quota metric of an accelerator type: `nvidia-tesla-a100` → `NVIDIA_A100_GPUS`.
    static func quotaMetric(accelerator type: String) -> String {
        let named = ["nvidia-h100-80gb": "NVIDIA_H100_GPUS", "nvidia-h100-mega-80gb": "NVIDIA_H100_MEGA_GPUS"]
        if let m = named[type] { return m }
        return type.replacingOccurrences(of: "-tesla-", with: "-").uppercased().replacingOccurrences(of: "-", with: "_") + "_GPUS"
    }

    private func garbage(_ what: String) -> GoogleError {
        GoogleError(code: "garbage", message: "\(target): \(what)", status: nil, retryable: true)
    }
}
