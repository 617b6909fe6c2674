import CutoverCore
import Foundation
internal import CLinux

/// How a program run by `exec` ended.
struct ProgramResult: Sendable {
    enum Ending: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        /// Killed, with everything it started, when its time ran out.
        case timedOut
        /// Killed, with everything it started, when this process could no longer prove it
        /// holds the run.
        case leaseLost
    }
    var ending: Ending
    /// Standard output, up to `ProgramRun.stdoutLimit` bytes.
    var stdout: [UInt8]
    var stdoutCut: Bool
    /// The last lines of standard error, each cut to `ProgramRun.lineLimit` characters.
    var stderrLines: [String]
    var stderrLinesDropped: Int
    /// Processes left behind (descendants of the program, double-forked or not) that were killed.
    var killedDescendants: Int
}

/// Runs one program the way `exec` needs it: in a process group of its own, this process a
/// subreaper (a double-forked grandchild is re-parented here, not to init), every descendant
/// marked by a token in its environment; when its time runs out or the lease cannot be proven,
/// every process carrying the token, in the group or descended from the program is killed
/// (SIGKILL) and reaped, so nothing it started acts after that. A program that ends on its own
/// may leave a daemon it meant to start (a rebuild starts the database server): that is left
/// running, and its output is read for two seconds more at most. While it runs the lease is
/// proven again every few seconds.
enum ProgramRun {
    static let stdoutLimit = 1 << 20
    static let lineLimit = 500
    static let stderrLineLimit = 50
    static let tokenVariable = "CUTOVER_EXEC_TOKEN"

    private static let subreaper: Bool = cutover_become_subreaper() == 0

    /// - Throws: `StepError` when the program cannot be started (not found, not executable).
    static func run(
        _ argv: [String], environment: [String: String], directory: String?, timeout: Duration,
        prove: @Sendable () async throws -> Void, proveEvery: Duration = .seconds(5)
    ) async throws -> ProgramResult {
        _ = subreaper
        guard let program = argv.first, !program.isEmpty else { throw StepError.badParameters("command: an empty argv") }
        let token = UUID().uuidString
        var env = environment
        env[tokenVariable] = token
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard cutover_pipe(&outPipe) == 0 else { throw StepError(code: "exec-start", message: "cannot make a pipe: \(String(cString: strerror(errno)))", retryable: true) }
        guard cutover_pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw StepError(code: "exec-start", message: "cannot make a pipe: \(String(cString: strerror(errno)))", retryable: true)
        }
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgv { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = cArgv.withUnsafeBufferPointer { a in
            cEnv.withUnsafeBufferPointer { e in
                cutover_spawn(a.baseAddress, e.baseAddress, directory, outPipe[1], errPipe[1], &pid)
            }
        }
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw StepError(
                code: "exec-start", message: "cannot start \(program)\(directory.map { " in \($0)" } ?? ""): \(String(cString: strerror(rc)))",
                retryable: false)
        }
        let tree = Tree(root: pid, token: token)
        let reader = Readers(out: outPipe[0], err: errPipe[0])
        let waiter = Waiter(pid: pid)
        let started = ContinuousClock.now
        var lastProof = started
        var ending: ProgramResult.Ending?
        while ending == nil {
            if let status = waiter.status {
                ending = cutover_term_signal(status) != 0 ? .signaled(cutover_term_signal(status)) : .exited(Int32(cutover_exit_status(status)))
                break
            }
            let now = ContinuousClock.now
            if now - started >= timeout {
                ending = .timedOut
                break
            }
            if now - lastProof >= proveEvery {
                do {
                    try await prove()
                    lastProof = ContinuousClock.now
                } catch {
                    await offPool {
                        tree.killAll()
                        _ = waiter.wait()
                        tree.killAll()
                        _ = reader.finish()
                    }
                    throw error
                }
            }
            // Descendants are looked for while it runs (one whose parent died is still known).
            if await waiter.exited(within: .milliseconds(now - started < .seconds(1) ? 10 : 100)) { continue }
            await offPool { tree.track() }
        }
        let end = ending!
        let (killed, (out, cut, lines, dropped)) = await offPool {
            var killed = 0
            switch end {
            case .timedOut, .leaseLost:
                killed = tree.killAll()
                _ = waiter.wait()
                killed += tree.killAll()
            default:
                _ = waiter.wait()
            }
            return (killed, reader.finish())
        }
        return ProgramResult(ending: ending!, stdout: out, stdoutCut: cut, stderrLines: lines, stderrLinesDropped: dropped, killedDescendants: killed)
    }

    /// Runs `body`, which blocks (scans /proc, waits for processes and pipes), on a thread of
    /// its own: the cooperative threads, two on this machine, stay free for the engine.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in
            Thread { c.resume(returning: body()) }.start()
        }
    }

    /// Waits for the program on a thread of its own.
    final class Waiter: @unchecked Sendable {
        // @unchecked: `result` and `pending` are only touched under `lock`.
        private let lock = NSCondition()
        private var result: Int32?
        private var pending: [Int: CheckedContinuation<Bool, Never>] = [:]
        private var nextID = 0

        init(pid: pid_t) {
            let thread = Thread { [self] in
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                lock.lock()
                result = status
                let waiting = pending
                pending.removeAll()
                lock.broadcast()
                lock.unlock()
                for c in waiting.values { c.resume(returning: true) }
            }
            thread.start()
        }

        /// Whether the program ended within `limit`: returns as soon as it does.
        func exited(within limit: Duration) async -> Bool {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                lock.lock()
                if result != nil {
                    lock.unlock()
                    c.resume(returning: true)
                    return
                }
                let id = nextID
                nextID += 1
                pending[id] = c
                lock.unlock()
                Task {
                    try? await Task.sleep(for: limit)
                    self.timeOut(id)
                }
            }
        }

        private func timeOut(_ id: Int) {
            lock.lock()
            let c = pending.removeValue(forKey: id)
            lock.unlock()
            c?.resume(returning: false)
        }

        var status: Int32? {
            lock.lock()
            defer { lock.unlock() }
            return result
        }

        func wait() -> Int32 {
            lock.lock()
            defer { lock.unlock() }
            while result == nil { lock.wait() }
            return result!
        }
    }

    /// Reads standard output and error to their ends, each on a thread of its own.
    final class Readers: @unchecked Sendable {
        // @unchecked: each buffer is written by its thread only, read after `group` is done.
        private let group = DispatchGroup()
        private var out: [UInt8] = []
        private var outCut = false
        private var err: [UInt8] = []
        private var errLines: [String] = []
        private var dropped = 0

        init(out outFD: Int32, err errFD: Int32) {
            group.enter()
            Thread { [self] in
                drain(outFD) { chunk in
                    let room = ProgramRun.stdoutLimit - out.count
                    if chunk.count > room { outCut = true }
                    out += chunk.prefix(max(0, room))
                }
                group.leave()
            }.start()
            group.enter()
            Thread { [self] in
                drain(errFD) { chunk in
                    err += chunk
                    while let nl = err.firstIndex(of: 10) {
                        line(Array(err[..<nl]))
                        err.removeSubrange(...nl)
                    }
                    if err.count > 64 << 10 {
                        line(err)
                        err.removeAll()
                    }
                }
                if !err.isEmpty { line(err) }
                group.leave()
            }.start()
        }

        private func line(_ bytes: [UInt8]) {
            let text = String(decoding: bytes, as: UTF8.self)
            errLines.append(text.count > ProgramRun.lineLimit ? String(text.prefix(ProgramRun.lineLimit)) + "…" : text)
            if errLines.count > ProgramRun.stderrLineLimit {
                errLines.removeFirst()
                dropped += 1
            }
        }

        /// Once set, reading stops at this time even if a daemon the program left still holds
        /// the pipe open.
        private let stopLock = NSLock()
        private var stopAt: ContinuousClock.Instant?

        private func drain(_ fd: Int32, _ take: ([UInt8]) -> Void) {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&pfd, 1, 100)
                if ready == 0 {
                    if let stop = stopLock.withLock({ stopAt }), ContinuousClock.now >= stop { break }
                    continue
                }
                if ready < 0 {
                    if errno == EINTR { continue }
                    break
                }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                take(Array(buffer[..<n]))
                if let stop = stopLock.withLock({ stopAt }), ContinuousClock.now >= stop { break }
            }
            close(fd)
        }

        func finish() -> ([UInt8], Bool, [String], Int) {
            stopLock.withLock { stopAt = ContinuousClock.now + .seconds(2) }
            group.wait()
            return (out, outCut, errLines, dropped)
        }
    }

    /// The program's processes: its group, its descendants as last seen, and every process
    /// carrying its token.
    final class Tree: @unchecked Sendable {
        // @unchecked: used by the task that runs the program only.
        let root: pid_t
        let token: String
        private var seen: Set<pid_t> = []

        init(root: pid_t, token: String) {
            self.root = root
            self.token = token
            seen.insert(root)
        }

        /// One process's parent and group, from /proc/PID/stat (after the command name, which
        /// may hold spaces and parentheses).
        static func stat(_ pid: pid_t) -> (parent: pid_t, group: pid_t, zombie: Bool)? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ")
            guard fields.count > 3, let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
            return (parent, group, fields[0] == "Z")
        }

        private func carriesToken(_ pid: pid_t) -> Bool {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            return data.split(separator: 0).contains { $0.elementsEqual("\(ProgramRun.tokenVariable)=\(token)".utf8) }
        }

        /// The program's processes now; with `tokens`, also every process carrying its token
        /// (reading each process's environment, so only when killing).
        private func members(tokens: Bool = true) -> [pid_t: (parent: pid_t, group: pid_t, zombie: Bool)] {
            let me = getpid()
            var all: [pid_t: (parent: pid_t, group: pid_t, zombie: Bool)] = [:]
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = pid_t(name), pid != me, let s = Self.stat(pid) else { continue }
                all[pid] = s
            }
            var mine: Set<pid_t> = seen.filter { all[$0] != nil }
            var grew = true
            while grew {
                grew = false
                for (pid, s) in all where !mine.contains(pid) && (mine.contains(s.parent) || s.group == root) {
                    mine.insert(pid)
                    grew = true
                }
            }
            if tokens {
                for (pid, _) in all where !mine.contains(pid) && carriesToken(pid) { mine.insert(pid) }
            }
            return all.filter { mine.contains($0.key) }
        }

        /// Remembers the descendants seen now (a grandchild whose parent dies is still known).
        func track() {
            for pid in members(tokens: false).keys { seen.insert(pid) }
        }

        /// Kills every process of the program but the program itself once it has been waited
        /// for, and reaps those re-parented here; how many were killed.
        @discardableResult
        func killAll() -> Int {
            var killed: Set<pid_t> = []
            let me = getpid()
            for _ in 0..<300 {
                let found = members()
                let alive = found.filter { !$0.value.zombie }
                for pid in alive.keys where kill(pid, SIGKILL) == 0 { killed.insert(pid) }
                // Reap what died and was re-parented to this process, the subreaper (the
                // program itself is reaped by its waiter); a killed process's children become
                // this process's only once it is gone, so look again until none is left.
                var left = false
                for pid in killed.union(found.keys) where pid != root {
                    guard let s = Self.stat(pid) else { continue }
                    if s.parent == me {
                        var status: Int32 = 0
                        if waitpid(pid, &status, WNOHANG) == 0 { left = true }
                    } else {
                        left = true
                    }
                }
                if alive.isEmpty && !left { break }
                usleep(10_000)
            }
            killed.remove(root)
            return killed.count
        }
    }
}
