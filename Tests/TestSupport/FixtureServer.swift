import Foundation

/// The repository's root, found from this file's place in it.
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `scripts/fixtures/http_fixture.py` running on a free loopback port for one test: inference
/// endpoints with latency and errors a test can change, and a webhook sink.
public final class FixtureServer: @unchecked Sendable {
    // @unchecked: set once in init; the process object is only used to stop it.
    public let port: Int
    private let process: Process

    /// - Throws: when python3 is missing or the server does not come up.
    public init() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", repositoryRoot.appendingPathComponent("scripts/fixtures/http_fixture.py").path, "--port", "0"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            p.terminate()
            throw FixtureError("the HTTP fixture did not start (is python3 installed?)")
        }
        self.port = port
        process = p
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitWithoutRunLoop()
    }

    public var base: String { "http://127.0.0.1:\(port)" }

    /// Changes an endpoint's latency, error rate or reported status while tests run.
    public func control(
        _ endpoint: String, latencyMs: Int? = nil, errorRate: Double? = nil, status: String? = nil, modelVersion: String? = nil, recommendations: Int? = nil,
        garbage: Bool? = nil
    ) throws {
        var body: [String: Any] = [:]
        if let modelVersion { body["modelVersion"] = modelVersion }
        if let recommendations { body["recommendations"] = recommendations }
        if let garbage { body["garbage"] = garbage }
        if let latencyMs { body["latencyMs"] = latencyMs }
        if let errorRate { body["errorRate"] = errorRate }
        if let status { body["status"] = status }
        _ = try request("POST", "/_control/\(endpoint)", body: try JSONSerialization.data(withJSONObject: body))
    }

    /// Every JSON body the webhook sink received, with its headers.
    public func received() throws -> [[String: Any]] {
        let data = try request("GET", "/_received", body: nil)
        return (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
    }

    /// Requests each endpoint has had (`/_stats`): {"dr": 3, "webhook": 1}.
    public func requests() throws -> [String: Int] {
        let stats = (try JSONSerialization.jsonObject(with: try request("GET", "/_stats", body: nil)) as? [String: Any]) ?? [:]
        return stats.compactMapValues { ($0 as? [String: Any])?["requests"] as? Int }
    }

    private func request(_ method: String, _ path: String, body: Data?) throws -> Data {
        // Plain sockets would do; curl keeps this short and is on every machine cutover runs on.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var args = ["curl", "-s", "-X", method, base + path]
        if let body { args += ["-H", "Content-Type: application/json", "--data-binary", String(decoding: body, as: UTF8.self)] }
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitWithoutRunLoop()
        return data
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Process {
    /// Waits for the process to end. `waitUntilExit()` spins a RunLoop, which never wakes on
    /// the threads Swift concurrency runs tests on (Linux), so this polls instead.
    public func waitWithoutRunLoop(timeout: TimeInterval = 120) {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning, Date() < deadline { usleep(5_000) }
    }
}
