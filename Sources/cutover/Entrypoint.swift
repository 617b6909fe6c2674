import CutoverCLI
import Foundation

@main
struct Entrypoint {
    static func main() async {
        // A parent may start us with SIGINT/SIGTERM blocked (posix_spawn keeps the mask of
        // the spawning thread); cutover must hear them to stop a run cleanly.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        exit(await CLI.run(Array(CommandLine.arguments.dropFirst())))
    }
}
