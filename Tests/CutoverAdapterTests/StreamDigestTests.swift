@testable import CutoverAWS
import CutoverCrypto
import Foundation
import Testing

/// The digests a copy between clouds computes as bytes pass.
struct StreamDigestTests {
    @Test func crc32cMatchesTheCastagnoliCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        // In pieces of every alignment, the same as in one piece (the 8-byte loop and the tail).
        let bytes = (0..<1_001).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        for cut in [1, 7, 8, 9, 500] {
            var c = CRC32C()
            bytes[..<cut].withUnsafeBytes { c.update($0) }
            bytes[cut...].withUnsafeBytes { c.update($0) }
            #expect(c.value == CRC32C.checksum(bytes), "cut at \(cut)")
        }
    }

    @Test func aSHA256StateTakenBetweenBlocksGoesOnInAnotherHasher() throws {
        let bytes = (0..<(3 * 64 * 1_000 + 17)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7) }
        let whole = Hex.encode(SHA256.hash(bytes))
        let first = ResumableSHA256()
        first.update(Array(bytes[..<(64 * 1_000)]))
        let state = try #require(first.state, "between blocks a state can be written down")
        let second = try #require(ResumableSHA256(state: state))
        second.update(Array(bytes[(64 * 1_000)...]))
        #expect(second.finish() == whole)
        let mid = ResumableSHA256()
        mid.update(Array(bytes[..<100]))
        #expect(mid.state == nil, "in the middle of a block there is no state to write down")
        #expect(ResumableSHA256(state: "not-a-state") == nil)
        #expect(ResumableSHA256(state: String(repeating: "0", count: 64) + ":x") == nil)
    }

    @Test func md5MatchesTheKnownDigest() {
        #expect(Hex.encode(MD5Hasher.hash(Array("hello".utf8))) == "5d41402abc4b2a76b9719d911017c592")
    }
}

/// Which S3 ETags are MD5s of the bytes: a copy compares only those.
struct S3ETagTests {
    @Test func onlyAPlainSinglePartETagIsAnMD5() {
        let md5 = "\"5d41402abc4b2a76b9719d911017c592\""
        #expect(S3Bucket.checksum(etag: md5) == "md5:5d41402abc4b2a76b9719d911017c592")
        #expect(S3Bucket.checksum(etag: "\"5d41402abc4b2a76b9719d911017c592-3\"") == nil, "a multipart ETag")
        #expect(S3Bucket.checksum(etag: md5, encrypted: S3Bucket.opaqueETag(["x-amz-server-side-encryption": "aws:kms"])) == nil, "SSE-KMS")
        #expect(S3Bucket.checksum(etag: md5, encrypted: S3Bucket.opaqueETag(["x-amz-server-side-encryption": "aws:kms:dsse"])) == nil, "DSSE-KMS")
        #expect(S3Bucket.checksum(etag: md5, encrypted: S3Bucket.opaqueETag(["x-amz-server-side-encryption-customer-algorithm": "AES256"])) == nil, "SSE-C")
        #expect(S3Bucket.checksum(etag: md5, encrypted: S3Bucket.opaqueETag(["x-amz-server-side-encryption": "AES256"])) != nil, "SSE-S3 keeps MD5 ETags")
    }
}
