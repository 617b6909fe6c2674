import CutoverCore
import CutoverProviders
import Foundation

/// An EC2 Auto Scaling group through the query API (`DescribeAutoScalingGroups`,
/// `SetDesiredCapacity`).
struct AutoScalingGroup: InstanceGroup {
    let aws: AWSClient
    let name: String

    var target: String { "Auto Scaling group \(name) in \(aws.signer.region)" }
    var endpoints: [String] { [aws.endpoint] }

    func size() async throws -> GroupSize {
        let root = try await calling("describing \(target)") {
            try await aws.query(action: "DescribeAutoScalingGroups", version: "2011-01-01", [("AutoScalingGroupNames.member.1", name)])
        }
        guard let list = root.find("AutoScalingGroups") else {
            throw StepError(code: "aws-garbage", message: "\(aws.target): DescribeAutoScalingGroups answered without AutoScalingGroups", retryable: true)
        }
        guard let g = list.all("member").first(where: { $0["AutoScalingGroupName"]?.text == name }) else {
            throw StepError(code: "no-such-group", message: "Auto Scaling group \(name) does not exist in \(aws.signer.region); check the runbook's target name", retryable: false)
        }
        func int(_ field: String) throws -> Int {
            guard let v = g[field]?.text, let n = Int(v) else {
                throw StepError(code: "aws-garbage", message: "DescribeAutoScalingGroups: \(field) of \(name) is not a number", retryable: true)
            }
            return n
        }
        let instances = g["Instances"]?.all("member") ?? []
        let running = instances.filter { $0["LifecycleState"]?.text == "InService" && ($0["HealthStatus"]?.text ?? "Healthy") == "Healthy" }.count
        return GroupSize(desired: try int("DesiredCapacity"), min: try int("MinSize"), max: try int("MaxSize"), running: running, total: instances.count)
    }

    func resize(to capacity: Int, _ proof: RunProof) async throws {
        let what = "setting the desired capacity of \(target) to \(capacity)"
        try proof.check(doing: what)
        _ = try await calling(what) {
            try await aws.query(action: "SetDesiredCapacity", version: "2011-01-01", [
                ("AutoScalingGroupName", name), ("DesiredCapacity", String(capacity)), ("HonorCooldown", "false"),
            ], gate: proof.gate(doing: what))
        }
    }

    /// An Auto Scaling group's own bound is its maximum size; EC2's instance quotas are not
    /// read (AWS answers them through Service Quotas, per instance family).
    func capacityLimits(toReach capacity: Int) async throws -> [CapacityLimit] {
        let s = try await size()
        return [CapacityLimit(limit: "maximum size of \(target)", needed: capacity, available: s.max)]
    }
}
