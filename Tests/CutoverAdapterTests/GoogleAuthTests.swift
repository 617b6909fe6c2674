import CutoverCore
import Foundation
import Testing
import TestSupport

@testable import CutoverGoogle
import CutoverPostgres

/// Google's token flow, offline: the RS256 JWT a service-account key signs (checked by the
/// `openssl` CLI, not by our own code), keys refused with their file named and their contents
/// never shown, and the names that go into API paths.
@Suite struct GoogleAuthTests {
    let dir = TemporaryDirectory()

    /// Runs `openssl` with `args`; its standard output.
    func openssl(_ args: [String], input: Data? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        let inp = Pipe()
        p.standardInput = inp
        try p.run()
        if let input { inp.fileHandleForWriting.write(input) }
        try inp.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func rsaKey(bits: Int = 2048) throws -> String {
        let r = try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:\(bits)"])
        #expect(r.status == 0, "\(r.output)")
        return r.output
    }

    func keyJSON(_ pem: String, type: String = "service_account", tokenURI: String = "https://oauth2.googleapis.com/token") -> String {
        let o: JSONValue = .object([
            "type": .string(type), "project_id": .string("recsys-dr"), "private_key_id": .string("0123456789abcdef0123456789abcdef01234567"),
            "private_key": .string(pem), "client_email": .string("cutover@recsys-dr.iam.gserviceaccount.com"), "token_uri": .string(tokenURI),
        ])
        return o.canonicalString
    }

    static func base64URLDecode(_ s: Substring) -> Data? {
        var t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while t.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t)
    }

    @Test func theAssertionIsAnRS256JWTThatOpenSSLVerifies() throws {
        let pem = try rsaKey()
        let key = try ServiceAccountKey.parse(keyJSON(pem, tokenURI: "http://127.0.0.1:18095/token"), source: "file:/keys/sa.json")
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        let jwt = try key.assertion(now: now)
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        try #require(parts.count == 3)
        let header = try JSONValue.parse(try #require(Self.base64URLDecode(parts[0])))
        #expect(header["alg"]?.stringValue == "RS256" && header["typ"]?.stringValue == "JWT")
        #expect(header["kid"]?.stringValue == "0123456789abcdef0123456789abcdef01234567")
        let claims = try JSONValue.parse(try #require(Self.base64URLDecode(parts[1])))
        #expect(claims["iss"]?.stringValue == "cutover@recsys-dr.iam.gserviceaccount.com")
        #expect(claims["aud"]?.stringValue == "https://oauth2.googleapis.com/token", "the audience is Google's token endpoint, wherever token_uri posts it, as Google's clients send it")
        #expect(key.tokenURI == "http://127.0.0.1:18095/token")
        #expect(claims["scope"]?.stringValue == "https://www.googleapis.com/auth/cloud-platform")
        #expect(claims["iat"]?.intValue == 1_796_000_000 && claims["exp"]?.intValue == 1_796_003_600, "an hour, the longest Google takes")
        #expect(!jwt.contains("=") && !jwt.contains("+") && !jwt.contains("/"), "base64url without padding")

        // openssl checks the signature over header.claims with the public half.
        try pem.write(toFile: dir.path("key.pem"), atomically: true, encoding: .utf8)
        let pub = try openssl(["pkey", "-in", dir.path("key.pem"), "-pubout", "-out", dir.path("pub.pem")])
        #expect(pub.status == 0)
        try #require(Self.base64URLDecode(parts[2])).write(to: URL(fileURLWithPath: dir.path("sig")))
        let input = Data((parts[0] + "." + parts[1]).utf8)
        let verified = try openssl(["dgst", "-sha256", "-verify", dir.path("pub.pem"), "-signature", dir.path("sig")], input: input)
        #expect(verified.status == 0 && verified.output.contains("Verified OK"), "\(verified.output)")
        let tampered = try openssl(["dgst", "-sha256", "-verify", dir.path("pub.pem"), "-signature", dir.path("sig")], input: input + Data("x".utf8))
        #expect(tampered.status != 0, "a changed claim does not verify")
    }

    @Test func badKeysAreNamedByTheirFileNeverShown() throws {
        let pem = try rsaKey()
        let body = try #require(pem.split(separator: "\n").first { !$0.hasPrefix("-----") })  // a line of the key's base64
        let short = try rsaKey(bits: 1024)
        let ec = try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]).output
        try pem.write(toFile: dir.path("plain.pem"), atomically: true, encoding: .utf8)
        let encrypted = try openssl(["pkcs8", "-topk8", "-in", dir.path("plain.pem"), "-passout", "pass:secret-pass"]).output
        let cases: [(text: String, says: String)] = [
            ("{not json", "not JSON"),
            (keyJSON(pem, type: "authorized_user"), "\"type\" is not \"service_account\""),
            (keyJSON(pem.replacingOccurrences(of: String(body), with: String(body.reversed()))), "not a PEM private key"),
            (keyJSON(short), "1024 bits"),
            (keyJSON(ec), "not an RSA key"),
            (keyJSON(encrypted), "encrypted"),
            (keyJSON(pem, tokenURI: "http://evil.example.com/token"), "token_uri"),
        ]
        for c in cases {
            let error = #expect(throws: StepError.self, "\(c.says)") { try ServiceAccountKey.parse(c.text, source: "file:/keys/sa.json") }
            #expect(error?.code == "gcp-bad-key")
            let message = error?.message ?? ""
            #expect(message.contains("file:/keys/sa.json") && message.contains(c.says), "\(message)")
            #expect(!message.contains(String(body)) && !message.contains("BEGIN") && !message.contains("secret-pass"), "the key's text never reaches a message: \(message)")
        }
    }

    @Test func acceleratorTypesMapToTheirQuotaMetrics() {
        #expect(ManagedInstanceGroup.quotaMetric(accelerator: "nvidia-tesla-a100") == "NVIDIA_A100_GPUS")
        #expect(ManagedInstanceGroup.quotaMetric(accelerator: "nvidia-a100-80gb") == "NVIDIA_A100_80GB_GPUS")
        #expect(ManagedInstanceGroup.quotaMetric(accelerator: "nvidia-tesla-t4") == "NVIDIA_T4_GPUS")
        #expect(ManagedInstanceGroup.quotaMetric(accelerator: "nvidia-l4") == "NVIDIA_L4_GPUS")
        #expect(ManagedInstanceGroup.quotaMetric(accelerator: "nvidia-h100-80gb") == "NVIDIA_H100_GPUS")
    }

    @Test func urlsGoogleReturnsAreReadForTheirPathNeverFollowed() {
        let base = "compute/v1/"
        #expect(GoogleAPI.resourcePath("https://www.googleapis.com/compute/v1/projects/recsys-dr/global/instanceTemplates/a2-t", basePath: base)
            == "projects/recsys-dr/global/instanceTemplates/a2-t")
        for bad in [
            "https://evil.example/compute/v1/projects/p/../../admin", "https://x/compute/v1/projects/p/global/instanceTemplates/t%2F..",
            "https://x/compute/v1/projects/p/global/instanceTemplates/t?alt=media", "https://x/storage/v1/b/x", "https://x/compute/v1/projects//t",
        ] {
            #expect(GoogleAPI.resourcePath(bad, basePath: base) == nil, "\(bad)")
        }
    }

    @Test func targetsAreCheckedWhenTheRunbookLoads() {
        let schemas = ProviderSchemas([GoogleProviders.computeSchema])
        func problems(_ fields: [String: JSONValue]) -> [String] {
            var o = fields
            o["provider"] = .string("gce")
            return schemas.problems(in: o, at: "dr.gpuGroup", needing: .instanceGroup).map { "\($0.path): \($0.message)" }
        }
        let good: [String: JSONValue] = ["project": .string("recsys-dr"), "zone": .string("us-central1-a"), "name": .string("recsys-dr-gpu")]
        #expect(problems(good).isEmpty, "\(problems(good))")
        var both = good
        both["region"] = .string("us-central1")
        #expect(problems(both).contains { $0.contains("not both") })
        var neither = good
        neither["zone"] = nil
        #expect(problems(neither).contains { $0.contains("zone") && $0.contains("missing") })
        var climbing = good
        climbing["name"] = .string("../../global/images")
        #expect(problems(climbing).contains { $0.contains("dr.gpuGroup.name") })
        var pasted = good
        pasted["credentials"] = .string(#"{"type": "service_account", "private_key": "-----BEGIN"}"#)
        #expect(problems(pasted).contains { $0.contains("never goes in the runbook") })
        var none = good
        none["credentials"] = .string("none")
        #expect(problems(none).contains { $0.contains("emulator") }, "no credentials only for an emulator on loopback")
        none["endpoint"] = .string("http://127.0.0.1:18095")
        #expect(problems(none).isEmpty)

        // A token is a bearer credential: it goes to Google or to this machine, nowhere else.
        for elsewhere in ["http://collector.example", "https://compute.googleapis.com.evil.example", "http://127.0.0.1.evil.example:18095", "https://googleapis.com@evil.example/"] {
            var leak = good
            leak["endpoint"] = .string(elsewhere)
            #expect(problems(leak).contains { $0.hasPrefix("dr.gpuGroup.endpoint") && $0.contains("only sent to") }, "\(elsewhere): \(problems(leak))")
        }
        for fine in ["https://compute.googleapis.com", "https://us-central1-compute.googleapis.com/", "http://127.0.0.1:18095", "http://localhost:8080"] {
            var ok = good
            ok["endpoint"] = .string(fine)
            #expect(problems(ok).isEmpty, "\(fine): \(problems(ok))")
        }
    }

    @Test func aPostgresTargetNamesOneServer() {
        let schemas = ProviderSchemas([PostgresProvider.schema])
        func problems(_ host: String, table: String = "cutover_heartbeat") -> [String] {
            let o: [String: JSONValue] = [
                "provider": .string("postgres"), "host": .string(host), "database": .string("recsys"), "user": .string("cutover"),
                "heartbeatTable": .string(table),
            ]
            return schemas.problems(in: o, at: "dr.userdb", needing: .replica).map { "\($0.path): \($0.message)" }
        }
        #expect(problems("10.60.0.30").isEmpty)
        for bad in ["10.60.0.30,10.60.0.31", "/var/run/postgresql", "db host", "h\u{1b}[2J"] {
            #expect(problems(bad).contains { $0.hasPrefix("dr.userdb.host") }, "\(bad)")
        }
        for bad in ["heartbeat; DROP TABLE users", "Heartbeat", "a.b.c", "\"x\""] {
            #expect(problems("10.60.0.30", table: bad).contains { $0.hasPrefix("dr.userdb.heartbeatTable") }, "\(bad)")
        }
    }
}
