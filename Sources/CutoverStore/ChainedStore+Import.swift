import CutoverCore

extension ChainedStore {
    /// Copies `events` exactly as stored (position, run position, time, actor, type, body,
    /// hash) after the log's head, in one transaction, each checked to follow the one before:
    /// its position next, its run position next in its run, its hash the chain's over its
    /// canonical bytes. `cutover db copy` uses it; a restored log will too.
    /// - Throws: `StoreError` `.corrupt` naming the first event that does not follow (nothing
    ///   of the batch is written), or the database's error.
    public func importEvents(_ events: [StoredEvent]) throws {
        try withTransaction { database in
            var link = try database.lastLink() ?? .genesis
            var positions: [String: Int64] = [:]
            for e in events {
                let last = try positions[e.runID] ?? database.lastPosition(of: e.runID)
                guard e.seq == link.seq + 1, e.runSeq == last + 1 else {
                    throw StoreError(.corrupt, "event \(e.seq) (\(e.runID) #\(e.runSeq)) does not follow the log's event \(link.seq) and its run's #\(last): nothing of this batch was copied")
                }
                let hash = hasher.hash(seq: e.seq, runID: e.runID, runSeq: e.runSeq, atMillis: e.atMillis, actor: e.actor, type: e.type, body: e.bodyJSON, after: link.hash)
                guard hash == e.hash else {
                    throw StoreError(.corrupt, "event \(e.seq) does not hash to the chain (edited before the copy?): nothing of this batch was copied")
                }
                try database.insert(seq: e.seq, run: e.runID, runSeq: e.runSeq, type: e.type, atMillis: e.atMillis, actor: e.actor, body: e.bodyJSON, hash: e.hash)
                positions[e.runID] = e.runSeq
                link = ChainLink(seq: e.seq, hash: e.hash)
            }
        }
    }

    /// Copies a checkpoint as signed; the caller has checked its signature and its position.
    public func importCheckpoint(_ cp: StoredCheckpoint) throws {
        _ = try appendCheckpoint(CheckpointDraft(seq: cp.seq, hash: cp.hash, atMillis: cp.atMillis, key: cp.key, signature: cp.signature))
    }

    /// Holds `scope` for `run`, as the log says: a service lock copied with its run.
    public func importLock(scope: String, run: String) throws {
        try withTransaction { try $0.putLock(scope: scope, run: run) }
    }
}
