import CutoverCore
import CutoverCrypto
import CutoverProviders
import Foundation
import Testing
import TestSupport

/// What every adapter of a capability must do, whichever cloud serves it: run against a real
/// service (the sandbox's, or later Google's fakes) by the suite of each adapter.
///
/// Each contract leaves the service as it found it, and checks that a mutating call with a
/// stale proof (a driver frozen past its lease) is refused before anything is sent.
enum ProviderContracts {
    static func stale<T>(_ what: String, _ body: () async throws -> T) async {
        do {
            _ = try await body()
            Issue.record("\(what) with a stale proof was not refused")
        } catch let e as StepError {
            #expect(e.code == "proof-expired", "\(what): \(e)")
            #expect(e.retryable == true, "the driver retries with a new proof, or stops if the run is gone")
        } catch {
            Issue.record("\(what) with a stale proof failed with \(error), not proof-expired")
        }
    }

    /// Polls `check` for up to `seconds`.
    static func eventually(_ seconds: Double = 15, _ check: () async throws -> Bool) async throws -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try await check() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await check()
    }

    /// An instance group: its size reads back, a resize is seen, a stale proof changes nothing,
    /// the old size is put back; its capacity limits hold its size and not one past its bounds.
    static func instanceGroup(_ group: any InstanceGroup) async throws {
        let before = try await group.size()
        #expect(before.min <= before.desired && before.desired <= before.max, "\(group.target): \(before)")
        #expect(before.running <= before.total)
        let wanted = before.desired < before.max ? before.desired + 1 : before.desired - 1
        await stale("resizing \(group.target)") { try await group.resize(to: wanted, StepTestContext.staleProof()) }
        #expect(try await group.size().desired == before.desired, "a stale proof changed nothing")

        try await group.resize(to: wanted, StepTestContext.freshProof())
        #expect(try await group.size().desired == wanted)
        #expect(try await eventually { let s = try await group.size(); return s.running == wanted && s.total == wanted }, "\(group.target) reaches \(wanted) running")

        try await group.resize(to: before.desired, StepTestContext.freshProof())
        #expect(try await eventually { let s = try await group.size(); return s.desired == before.desired && s.running == before.desired })

        // Its limits, read only: the size it has fits them, a size past its bounds does not.
        let fits = try await group.capacityLimits(toReach: before.desired)
        #expect(!fits.isEmpty && !fits.contains { $0.short }, "\(group.target): \(fits)")
        let far = try await group.capacityLimits(toReach: 5_000)
        #expect(far.contains { $0.short }, "\(group.target) names what 5000 instances would run past: \(far)")
        #expect(try await group.size().desired == before.desired, "reading limits changes nothing")
    }

    /// A DNS zone: a missing record reads as nil; replace creates, replaces and reads back; a
    /// stale proof changes nothing; delete removes. `name` must be in the zone and unused.
    static func dnsZone(_ zone: any DNSZone, name: String) async throws {
        #expect(try await zone.read(name: name, type: "A") == nil, "\(name) does not exist yet")
        let first = RecordSet(ttl: 120, records: ["192.0.2.1", "192.0.2.2"])
        try await zone.replace(name: name, type: "A", with: first, replacing: nil, StepTestContext.freshProof())
        let read = try await zone.read(name: name, type: "A")
        #expect(read?.sorted == first.sorted && read?.ttl == 120, "\(String(describing: read))")

        let second = RecordSet(ttl: 60, records: ["198.51.100.7"])
        try await zone.replace(name: name, type: "A", with: second, replacing: read, StepTestContext.freshProof())
        #expect(try await zone.read(name: name, type: "A") == second)

        await stale("replacing \(name)") { try await zone.replace(name: name, type: "A", with: first, replacing: second, StepTestContext.staleProof()) }
        await stale("deleting \(name)") { try await zone.delete(name: name, type: "A", current: second, StepTestContext.staleProof()) }
        #expect(try await zone.read(name: name, type: "A") == second, "stale proofs changed nothing")

        try await zone.delete(name: name, type: "A", current: second, StepTestContext.freshProof())
        #expect(try await zone.read(name: name, type: "A") == nil)
    }

    /// An object store: a missing key reads as nil; create writes once and never overwrites;
    /// the listing names the object with its size and a checksum of its bytes; a read past the
    /// limit is refused; a stale proof writes nothing. `prefix` must be unused.
    static func objectStore(_ store: any ObjectStore, prefix: String) async throws {
        let key = prefix + "model.bin"
        let bytes = Array("hello".utf8)
        #expect(try await store.read(key, limit: 1 << 20) == nil)
        await stale("writing \(store.url(key))") { try await store.create(key, bytes: bytes, StepTestContext.staleProof()) }
        #expect(try await store.read(key, limit: 1 << 20) == nil, "a stale proof wrote nothing")

        #expect(try await store.create(key, bytes: bytes, StepTestContext.freshProof()) == true)
        #expect(try await store.read(key, limit: 1 << 20) == bytes)
        #expect(try await store.create(key, bytes: Array("other".utf8), StepTestContext.freshProof()) == false, "create never overwrites")
        #expect(try await store.read(key, limit: 1 << 20) == bytes, "the first write stands")

        _ = try await store.create(prefix + "tokenizer.json", bytes: Array("{}".utf8), StepTestContext.freshProof())
        let listed = try await store.list(prefix: prefix)
        #expect(listed.map(\.key) == [prefix + "model.bin", prefix + "tokenizer.json"], "in key order, only the prefix")
        #expect(listed.first?.size == 5)
        if let checksum = listed.first?.checksum {
            // The digests of "hello", as each algorithm a provider may give spells them.
            let known = ["md5:5d41402abc4b2a76b9719d911017c592", "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "crc32c:9a71bb4c"]
            #expect(known.contains(checksum), "\(checksum) is a digest of the bytes")
        }
        #expect(try await store.list(prefix: prefix + "nothing-here/").isEmpty)
        await #expect(throws: (any Error).self, "a read past the limit is refused") { try await store.read(key, limit: 2) }
        try await objectStoreStreams(store, prefix: prefix)
        for o in try await store.list(prefix: prefix) { _ = try await store.delete(o.key, current: o, StepTestContext.freshProof()) }
        #expect(try await store.list(prefix: prefix).isEmpty, "the contract leaves the bucket as it found it")
    }

    /// The object store's streamed and conditional calls: head, ranged streams, streamed
    /// create-only writes whose end check can stop them, replace and delete only of what was read.
    static func objectStoreStreams(_ store: any ObjectStore, prefix: String) async throws {
        let key = prefix + "blobs/sha256/streamed"
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        #expect(try await store.head(key) == nil)
        func channel(_ data: [UInt8], atEnd: (@Sendable () -> Error?)? = nil) -> ByteChannel {
            let c = ByteChannel(capacity: 64 << 10, atEnd: atEnd)
            Thread.detachNewThread {
                var i = 0
                while i < data.count {
                    let n = min(10_000, data.count - i)
                    guard data[i..<i + n].withUnsafeBytes({ c.write($0) }) else { return }
                    i += n
                }
                c.finish()
            }
            return c
        }
        await stale("writing \(store.url(key))") {
            try await store.create(key, length: Int64(bytes.count), from: channel(bytes), checkedSHA256: "ab", StepTestContext.staleProof())
        }
        // An end check that fails: the last byte is never sent, nothing is stored.
        await #expect(throws: (any Error).self) {
            try await store.create(key, length: Int64(bytes.count), from: channel(bytes, atEnd: { CopyError(reason: "wrong digest") }), checkedSHA256: "ab", StepTestContext.freshProof())
        }
        #expect(try await store.head(key) == nil, "a write whose end check failed stored nothing")
        // Fewer bytes than announced: refused, nothing stored.
        await #expect(throws: (any Error).self) {
            try await store.create(key, length: Int64(bytes.count) + 1, from: channel(bytes), checkedSHA256: "ab", StepTestContext.freshProof())
        }
        #expect(try await store.head(key) == nil, "a short body stored nothing")

        let made = try await store.create(key, length: Int64(bytes.count), from: channel(bytes), checkedSHA256: "ab", StepTestContext.freshProof())
        #expect(made?.size == Int64(bytes.count))
        let head = try #require(try await store.head(key))
        #expect(head.size == Int64(bytes.count) && head.checkedSHA256 == "ab" && head.version != nil, "\(head)")
        if let crc = head.crc32c { #expect(crc == CRC32C.checksum(bytes), "the store's CRC32C is ours") }
        if let md5 = head.checksum { #expect(md5 == "md5:" + Hex.encode(MD5Hasher.hash(bytes)), "the store's MD5 is ours") }
        #expect(try await store.create(key, length: 5, from: channel(Array("other".utf8)), checkedSHA256: "cd", StepTestContext.freshProof()) == nil, "never overwrites")

        let got = Collected()
        try await store.stream(head, range: nil) { got.add($0) }
        #expect(got.bytes.count == bytes.count && got.bytes == bytes, "streamed back whole")
        let part = Collected()
        try await store.stream(head, range: 1_000..<251_000) { part.add($0) }
        #expect(part.bytes.count == 250_000 && part.bytes == Array(bytes[1_000..<251_000]), "a range")

        let small = prefix + "current.json"
        #expect(try await store.replace(small, bytes: Array("v1".utf8), current: nil, StepTestContext.freshProof()), "a new key with current nil")
        let v1 = try #require(try await store.head(small))
        #expect(try await store.replace(small, bytes: Array("v0".utf8), current: nil, StepTestContext.freshProof()) == false, "current nil refuses an existing key")
        #expect(try await store.replace(small, bytes: Array("v2".utf8), current: v1, StepTestContext.freshProof()))
        #expect(try await store.replace(small, bytes: Array("v3".utf8), current: v1, StepTestContext.freshProof()) == false, "a version read before the last write is refused")
        #expect(try await store.read(small, limit: 100) == Array("v2".utf8))
        let v2 = try #require(try await store.head(small))
        #expect(try await store.delete(small, current: v1, StepTestContext.freshProof()) == false, "delete of a version no longer there")
        #expect(try await store.read(small, limit: 100) == Array("v2".utf8))
        #expect(try await store.delete(small, current: v2, StepTestContext.freshProof()))
        #expect(try await store.head(small) == nil)
        await #expect(throws: StepError.self, "a stream of an object replaced since it was read") {
            try await store.stream(v2, range: nil) { _ in true }
        }
    }

    /// A primary and its replica: roles read back; a marker written on the primary reaches the
    /// replica; promote and follow change roles and back; a stale proof changes nothing.
    static func replica(primary: any Replica, replica: any Replica) async throws {
        #expect(try await primary.state().role == .primary)
        let s = try await replica.state()
        #expect(s.role == .replica && s.following == primary.address, "\(replica.target): \(s)")
        #expect(try await eventually { try await replica.state().linkUp })
        #expect(try await replica.readMarker(key: "contract:absent:\(UUID().uuidString)") == nil)

        let key = "contract:marker", value = UUID().uuidString
        let before = try await primary.readMarker(key: key)
        await stale("writing a marker") { try await primary.writeMarker(key: key, value: value, replacing: before, StepTestContext.staleProof()) }
        #expect(try await primary.writeMarker(key: key, value: value, replacing: before, StepTestContext.freshProof()))
        #expect(try await eventually { try await replica.readMarker(key: key) == value }, "the write reaches the replica")
        // Check-and-set: a writer that read an older value (another driver wrote since) writes nothing.
        #expect(try await primary.writeMarker(key: key, value: "late", replacing: before, StepTestContext.freshProof()) == false)
        #expect(try await primary.readMarker(key: key) == value)

        await stale("promoting \(replica.target)") { try await replica.promote(StepTestContext.staleProof()) }
        #expect(try await replica.state().role == .replica, "a stale proof promoted nothing")
        try await replica.promote(StepTestContext.freshProof())
        #expect(try await replica.state().role == .primary)
        await stale("following") { try await replica.follow(primary.address, StepTestContext.staleProof()) }
        #expect(try await replica.state().role == .primary)
        try await replica.follow(primary.address, StepTestContext.freshProof())
        #expect(try await eventually { let s = try await replica.state(); return s.role == .replica && s.linkUp && !s.syncing }, "following again")
    }
}

extension ProviderContracts {
    /// An alert manager: a silence made is listed with its matchers, a stale proof makes and
    /// ends nothing, an ended silence is gone. `label` must be unused.
    static func alerting(_ alerts: any Alerting, label: String) async throws {
        let s = Silence(
            id: nil, matchers: [Silence.Matcher(name: "contract", value: label)],
            endsAtMillis: Int64((Date().addingTimeInterval(600).timeIntervalSince1970 * 1_000).rounded()), comment: "contract \(label)", createdBy: "cutover-tests")
        await stale("silencing \(label)") { try await alerts.silence(s, StepTestContext.staleProof()) }
        #expect(try await !alerts.activeSilences().contains { $0.comment == s.comment }, "a stale proof made no silence")
        let id = try await alerts.silence(s, StepTestContext.freshProof())
        let listed = try await alerts.activeSilences().first { $0.id == id }
        #expect(listed?.matchers == s.matchers && listed?.comment == s.comment && listed?.createdBy == s.createdBy, "\(String(describing: listed))")
        #expect(listed.map { abs($0.endsAtMillis - s.endsAtMillis) < 1_000 } == true, "its end reads back")
        #expect(listed?.silences(["contract": label, "other": "x"]) == true && listed?.silences(["contract": "other"]) == false)
        await stale("expiring \(id)") { try await alerts.expire(id: id, StepTestContext.staleProof()) }
        #expect(try await alerts.activeSilences().contains { $0.id == id }, "a stale proof ended nothing")
        try await alerts.expire(id: id, StepTestContext.freshProof())
        #expect(try await !alerts.activeSilences().contains { $0.id == id })
    }
}

/// Bytes a stream handed over, in order.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data: [UInt8] = []
    func add(_ b: UnsafeRawBufferPointer) -> Bool {
        lock.withLock { data.append(contentsOf: b) }
        return true
    }
    var bytes: [UInt8] { lock.withLock { data } }
}
