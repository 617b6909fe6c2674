import Foundation

/// Hosts for real on one machine: network namespaces on a bridge of their own, each with its
/// own link (a veth pair), reaching the sandbox's services (which listen on 127.0.0.1 only)
/// through a TCP relay on the bridge's address. `cut` takes a host's link down, a partition as
/// the host sees it: its connections hang, nothing is closed; `restore` brings it back. Made
/// by the test and removed when it ends. Root only.
public final class NetworkHosts: @unchecked Sendable {
    // @unchecked: set up once, then only read; `relay` is stopped once.
    /// The bridge's address: where the hosts reach the relayed services.
    public let gateway: String
    private let tag: String
    public let count: Int
    private var relay: Process?

    /// Whether this process may make namespaces (root).
    public static var available: Bool { getuid() == 0 }

    /// - Parameter ports: the 127.0.0.1 ports the hosts reach through the gateway.
    public init(count: Int, relaying ports: [Int]) throws {
        let subnet = Int.random(in: 1...250)
        tag = "ct" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        self.count = count
        gateway = "10.231.\(subnet).1"
        try Self.ip(["link", "add", "\(tag)br", "type", "bridge"])
        try Self.ip(["addr", "add", "\(gateway)/24", "dev", "\(tag)br"])
        try Self.ip(["link", "set", "\(tag)br", "up"])
        for i in 0..<count {
            let ns = namespace(i), outside = link(i)
            try Self.ip(["netns", "add", ns])
            try Self.ip(["link", "add", outside, "type", "veth", "peer", "name", "\(tag)i\(i)"])
            try Self.ip(["link", "set", "\(tag)i\(i)", "netns", ns])
            try Self.ip(["link", "set", outside, "master", "\(tag)br"])
            try Self.ip(["link", "set", outside, "up"])
            try Self.ip(["-n", ns, "addr", "add", "10.231.\(subnet).\(10 + i)/24", "dev", "\(tag)i\(i)"])
            try Self.ip(["-n", ns, "link", "set", "\(tag)i\(i)", "up"])
            try Self.ip(["-n", ns, "link", "set", "lo", "up"])
        }
        let relay = Process()
        self.relay = relay
        relay.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        relay.arguments = [repositoryRoot.appendingPathComponent("scripts/fixtures/tcp_relay.py").path, "--bind", gateway, "--ports", ports.map(String.init).joined(separator: ",")]
        let out = Pipe()
        relay.standardOutput = out
        relay.standardError = FileHandle.nullDevice
        try relay.run()
        let ready = out.fileHandleForReading.availableData
        guard String(decoding: ready, as: UTF8.self).contains("ready") else {
            remove()
            throw FixtureError("the TCP relay on \(gateway) did not start")
        }
    }

    deinit { remove() }

    public func namespace(_ i: Int) -> String { "\(tag)-h\(i)" }
    private func link(_ i: Int) -> String { "\(tag)o\(i)" }

    /// `args` run inside host `i`.
    public func command(_ i: Int, _ args: [String]) -> [String] { ["/usr/sbin/ip", "netns", "exec", namespace(i)] + args }

    /// Host `i`'s link goes down: a partition, as the host and everyone else see it.
    public func cut(_ i: Int) throws { try Self.ip(["link", "set", link(i), "down"]) }
    public func restore(_ i: Int) throws { try Self.ip(["link", "set", link(i), "up"]) }

    private func remove() {
        if let relay, relay.isRunning {
            relay.terminate()
            relay.waitUntilExit()
        }
        for i in 0..<count { try? Self.ip(["netns", "del", namespace(i)]) }
        try? Self.ip(["link", "del", "\(tag)br"])
    }

    private static func ip(_ args: [String]) throws { _ = try run(["/usr/sbin/ip"] + args) }

    @discardableResult
    private static func run(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let text = out.fileHandleForReading.readDataToEndOfFile()
        let problem = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw FixtureError("\(args.joined(separator: " ")): \(String(decoding: problem, as: UTF8.self))")
        }
        return String(decoding: text, as: UTF8.self)
    }
}
