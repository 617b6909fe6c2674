import CutoverCore
import Foundation

// What steps need from a cloud, whichever cloud it is. Reads take nothing; every method that
// changes the world takes a `RunProof`, which only the engine makes (`ctx.proof()`), and
// checks it right before sending. Each adapter maps its own failures to `StepError` (its
// errors conform to `StepFailure`) and names its target, never a credential.

/// Something a provider serves: a human name for messages (`Auto Scaling group recsys-dr-gpu
/// in us-east-1`), without credentials.
public protocol ProviderResource: Sendable {
    var target: String { get }
    /// Every service it talks to, `scheme://host[:port]` (its API, the token endpoint its
    /// credentials use): what preflight connects to, TCP and TLS, before any call.
    var endpoints: [String] { get }
}

/// The size of an instance group and how many of its instances serve.
public struct GroupSize: Codable, Sendable, Equatable {
    public var desired: Int
    public var min: Int
    public var max: Int
    /// Instances running and healthy (InService, RUNNING).
    public var running: Int
    /// Every instance the group has, in any state.
    public var total: Int
    /// Why instances cannot start, when the provider says it will not get better by waiting
    /// (a GPU stock-out in the zone, a quota reached): the step stops waiting and scales back.
    public var stall: StepError?

    public init(desired: Int, min: Int, max: Int, running: Int, total: Int, stall: StepError? = nil) {
        self.desired = desired
        self.min = min
        self.max = max
        self.running = running
        self.total = total
        self.stall = stall
    }
}

/// One limit that reaching a size runs into: the group's own maximum, or a regional quota
/// (GPUs, CPUs of a machine family, instances) less what is already used.
public struct CapacityLimit: Codable, Sendable, Equatable {
    /// What the limit is, for people: `quota NVIDIA_A100_GPUS in us-central1`.
    public var limit: String
    /// How much of it reaching the size takes (for a quota: on top of what the group uses now).
    public var needed: Int
    /// How much of it is left; nil when the provider does not list it (not checked).
    public var available: Int?

    public init(limit: String, needed: Int, available: Int?) {
        self.limit = limit
        self.needed = needed
        self.available = available
    }

    public var short: Bool { available.map { needed > $0 } ?? false }
}

/// A group of identical instances sized as one (an Auto Scaling group, a managed instance group).
public protocol InstanceGroup: ProviderResource {
    /// The group's own name at its provider, as outputs and reports keep it.
    var name: String { get }
    /// Its desired size, limits and running instances.
    func size() async throws -> GroupSize
    /// Sets the desired size (within the limits the group has), and returns once the provider
    /// has accepted it (instances may still be starting: `size` says when they run).
    func resize(to capacity: Int, _ proof: RunProof) async throws
    /// The limits that growing to `capacity` instances runs into, read only: what is checked
    /// before anything changes, so a shortfall stops a run before its first change.
    func capacityLimits(toReach capacity: Int) async throws -> [CapacityLimit]
}

/// A record set as cutover keeps it: enough to put it back exactly.
public struct RecordSet: Codable, Sendable, Equatable {
    public var ttl: Int
    public var records: [String]

    public init(ttl: Int, records: [String]) {
        self.ttl = ttl
        self.records = records
    }

    public var sorted: [String] { records.sorted() }
}

/// An authoritative DNS zone (PowerDNS, Route 53, Cloud DNS).
public protocol DNSZone: ProviderResource {
    /// The record set of `name` (fully qualified) and `type`, or nil when there is none.
    func read(name: String, type: String) async throws -> RecordSet?
    /// Replaces the record set, creating it when there is none. `current` is the set as the
    /// caller just read it (nil: none); a provider that can compare and swap (Route 53)
    /// applies the change only if it still is, and refuses otherwise.
    func replace(name: String, type: String, with set: RecordSet, replacing current: RecordSet?, _ proof: RunProof) async throws
    /// Deletes the record set (`current` is what it holds, for providers that need it).
    func delete(name: String, type: String, current: RecordSet, _ proof: RunProof) async throws
    /// Waits until the provider says its last change is served everywhere.
    func waitInSync(_ ctx: any StepContext, within: Duration) async throws
}

/// One object of a store, as a listing gives it.
public struct StoredObject: Sendable, Equatable {
    public var key: String
    public var size: Int64
    /// The provider's checksum as `algorithm:hex` (`md5:...`, `sha256:...`, `crc32c:...`), nil
    /// when it gives none that is a plain digest of the bytes (a multipart upload's ETag, a
    /// composite object).
    public var checksum: String?
    /// What a conditional write names to replace exactly this object: S3's ETag, Cloud
    /// Storage's generation.
    public var version: String?
    /// The SHA-256 cutover recorded in the object's metadata (`cutover-sha256`) when it wrote
    /// it, nil when there is none or the listing does not carry metadata (S3's: ask `head`).
    /// cutover writes it only on objects that exist solely if their bytes had that digest.
    public var checkedSHA256: String?
    /// Cloud Storage's CRC32C of the bytes (every object has one, composite ones too).
    public var crc32c: UInt32?

    public init(key: String, size: Int64, checksum: String?, version: String? = nil, checkedSHA256: String? = nil, crc32c: UInt32? = nil) {
        self.key = key
        self.size = size
        self.checksum = checksum
        self.version = version
        self.checkedSHA256 = checkedSHA256
        self.crc32c = crc32c
    }
}

/// The checksum a store reports for an object it was sent, which a copy compares with its own
/// of the bytes sent: S3's ETag is an MD5, Cloud Storage gives a CRC32C (cheaper to compute).
public enum ReceivedChecksum: Sendable {
    case md5
    case crc32c
}

/// The metadata name under which cutover records the SHA-256 it checked an object against.
public let checkedDigestMetadata = "cutover-sha256"

/// A bucket of model artifacts (S3, Cloud Storage).
public protocol ObjectStore: ProviderResource {
    /// `store://bucket/key` for messages.
    func url(_ key: String) -> String
    /// The objects whose keys start with `prefix`, in key order, with their checksums.
    func list(prefix: String) async throws -> [StoredObject]
    /// One object with its metadata (`checkedSHA256` included), or nil when it does not exist.
    func head(_ key: String) async throws -> StoredObject?
    /// The object's bytes, or nil when it does not exist.
    /// - Throws: when it is larger than `limit` (the provider's error, a `StepFailure`).
    func read(_ key: String, limit: Int) async throws -> [UInt8]?
    /// Streams the bytes of `object` (as `head` or `list` gave it) in `range` (all when nil)
    /// into `sink`, which returns false to stop. Memory stays flat whatever the size.
    /// - Throws: `StepError` `object-missing` when it is gone, or the transfer's error.
    func stream(_ object: StoredObject, range: Range<Int64>?, into sink: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool) async throws
    /// Writes a new object; never overwrites.
    /// - Returns: false when an object with that key already exists (left untouched).
    func create(_ key: String, bytes: [UInt8], _ proof: RunProof) async throws -> Bool
    /// Writes a new object of `length` bytes read from `body` as they come, with `checkedSHA256`
    /// recorded in its metadata; never overwrites. The body's end check (see `ByteChannel`)
    /// aborts the write before its last byte, so a failed check stores nothing.
    /// - Returns: the object as stored, or nil when one with that key already exists.
    func create(_ key: String, length: Int64, from body: ByteChannel, checkedSHA256: String, _ proof: RunProof) async throws -> StoredObject?
    /// Replaces the object only if it is still `current` (nil: only if there is none).
    /// - Returns: false when it changed (or appeared) since; nothing is written then.
    func replace(_ key: String, bytes: [UInt8], current: StoredObject?, _ proof: RunProof) async throws -> Bool
    /// Deletes the object only if it is still `current`.
    /// - Returns: false when it changed since (nothing deleted); true when deleted or already gone.
    func delete(_ key: String, current: StoredObject, _ proof: RunProof) async throws -> Bool
    /// Uploads in parts that survive the uploader (S3 multipart), when the store has them.
    var parts: (any PartedUploads)? { get }
    /// Every version of its objects (a versioned S3 bucket, as Object Lock makes one), when
    /// the store keeps them: what an object deleted or overwritten since still holds.
    var versions: (any ObjectVersions)? { get }
    /// What the store reports of the bytes a whole-object create received.
    var reports: ReceivedChecksum { get }
}

extension ObjectStore {
    public var parts: (any PartedUploads)? { nil }
    public var versions: (any ObjectVersions)? { nil }
    public var reports: ReceivedChecksum { .md5 }
}

/// One part of an unfinished upload.
public struct UploadedPart: Sendable, Equatable, Codable {
    public var number: Int
    /// The store's tag for the part, as completion names it.
    public var etag: String
    public var size: Int64
    /// The MD5 of the part's bytes as the store computed it (hex), when its tag is one (not in
    /// a bucket encrypted with KMS or customer keys, whose ETags are opaque).
    public var md5: String?

    public init(number: Int, etag: String, size: Int64, md5: String? = nil) {
        self.number = number
        self.etag = etag
        self.size = size
        self.md5 = md5
    }
}

/// An upload in parts that outlives the process making it: parts already sent are listed by
/// the store, so a copy resumed after a crash sends only the rest. The object appears only
/// when `complete` is called, so a copy whose digest is wrong is aborted, never seen.
public protocol PartedUploads: Sendable {
    /// The smallest part but the last.
    var minimumPartSize: Int64 { get }
    /// Starts an upload to `key`, with `checkedSHA256` in the object's metadata; its id.
    func start(_ key: String, checkedSHA256: String, _ proof: RunProof) async throws -> String
    /// The parts the store holds for the upload, in order; nil when the upload is gone.
    func parts(_ key: String, upload: String) async throws -> [UploadedPart]?
    /// Sends part `number` (from 1) of `length` bytes from `body`; the part as stored.
    func send(_ key: String, upload: String, number: Int, length: Int64, from body: ByteChannel, _ proof: RunProof) async throws -> UploadedPart
    /// Makes the object from `parts`, only if no object with that key exists.
    /// - Returns: the object as stored, or nil when one already exists (the upload is then aborted).
    func complete(_ key: String, upload: String, parts: [UploadedPart], _ proof: RunProof) async throws -> StoredObject?
    /// Drops the upload and its parts.
    func abort(_ key: String, upload: String, _ proof: RunProof) async throws
}

/// What a replica says about itself.
public struct ReplicaState: Codable, Sendable, Equatable {
    public enum Role: String, Codable, Sendable { case primary, replica }
    public var role: Role
    /// The address of what it follows (`host:port`), when a replica.
    public var following: String?
    public var linkUp: Bool
    /// Seconds since it last heard from its primary.
    public var secondsSinceContact: Int?
    /// Its replication offset (bytes of the primary's stream applied, or written when primary).
    public var offset: Int64?
    public var syncing: Bool

    public init(role: Role, following: String?, linkUp: Bool, secondsSinceContact: Int?, offset: Int64?, syncing: Bool) {
        self.role = role
        self.following = following
        self.linkUp = linkUp
        self.secondsSinceContact = secondsSinceContact
        self.offset = offset
        self.syncing = syncing
    }
}

/// A database node that is a primary or follows one (a Redis node, a Memorystore replica).
public protocol Replica: ProviderResource {
    /// How other nodes reach it (`host:port`), what `follow` takes.
    var address: String { get }
    func state() async throws -> ReplicaState
    /// Makes it a primary: it takes writes.
    func promote(_ proof: RunProof) async throws
    /// Makes it follow the node at `address` (its data is replaced by the primary's).
    func follow(_ address: String, _ proof: RunProof) async throws
    /// Writes a marker on a primary (to measure how long a write takes to reach a replica),
    /// only if it still holds `expected` (nil: absent), as a single check-and-set where the
    /// store offers one: a marker another driver wrote since it was read is left alone.
    /// - Returns: false when the marker held something else; nothing was written.
    func writeMarker(key: String, value: String, replacing expected: String?, _ proof: RunProof) async throws -> Bool
    /// Reads a marker, nil when absent.
    func readMarker(key: String) async throws -> String?
    /// Whether `follow` can undo a promotion (Redis: yes; PostgreSQL: no, the old server must
    /// be rewound or rebuilt). A drill does not make a promotion it cannot undo: it rehearses it.
    var promotionUndoable: Bool { get }
    /// Why a promotion could not be made now (not a replica, not streaming, replay paused, no
    /// privilege), read only; empty when it could.
    func promotionProblems() async throws -> [String]
}

extension Replica {
    public var promotionUndoable: Bool { true }

    public func promotionProblems() async throws -> [String] {
        try await state().role == .replica ? [] : ["it is not a replica"]
    }
}

/// A silence: alerts whose labels match every matcher do not page anyone until `endsAt`.
public struct Silence: Codable, Sendable, Equatable {
    public struct Matcher: Codable, Sendable, Equatable {
        public var name: String
        public var value: String
        /// An equality matcher (`=`); anything else (regex, `!=`) cutover keeps but never makes.
        public var isEqual: Bool
        public var isRegex: Bool

        public init(name: String, value: String, isEqual: Bool = true, isRegex: Bool = false) {
            self.name = name
            self.value = value
            self.isEqual = isEqual
            self.isRegex = isRegex
        }
    }

    /// The provider's id, nil for one not made yet.
    public var id: String?
    public var matchers: [Matcher]
    /// Milliseconds since 1970.
    public var endsAtMillis: Int64
    public var comment: String
    public var createdBy: String

    public init(id: String?, matchers: [Matcher], endsAtMillis: Int64, comment: String, createdBy: String) {
        self.id = id
        self.matchers = matchers
        self.endsAtMillis = endsAtMillis
        self.comment = comment
        self.createdBy = createdBy
    }

    /// True when every matcher is an equality matcher that `labels` satisfies: alerts with those
    /// labels are silenced by it.
    public func silences(_ labels: [String: String]) -> Bool {
        !matchers.isEmpty && matchers.allSatisfy { $0.isEqual && !$0.isRegex && labels[$0.name] == $0.value }
    }
}

/// What routes alerts to people (Alertmanager): its silences, made and expired.
public protocol Alerting: ProviderResource {
    /// The silences in force now (active or pending), with their ids.
    func activeSilences() async throws -> [Silence]
    /// Makes a silence from now until its end.
    /// - Returns: its id.
    func silence(_ silence: Silence, _ proof: RunProof) async throws -> String
    /// Ends a silence now.
    func expire(id: String, _ proof: RunProof) async throws
}

/// One version of an object in a store that keeps them.
public struct ObjectVersion: Sendable, Equatable {
    public var key: String
    public var version: String
    /// Whether it is a delete marker (the object was deleted; its earlier versions remain).
    public var deleted: Bool

    public init(key: String, version: String, deleted: Bool) {
        self.key = key
        self.version = version
        self.deleted = deleted
    }
}

/// The versions a store keeps of its objects.
public protocol ObjectVersions: Sendable {
    /// Every version of every object whose key starts with `prefix`, delete markers included.
    func versions(prefix: String) async throws -> [ObjectVersion]
    /// The bytes of one version, or nil when it does not exist.
    func read(_ key: String, version: String, limit: Int) async throws -> [UInt8]?
}
