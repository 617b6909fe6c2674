import CutoverCLI
import Foundation

@main
struct Entrypoint {
    static func main() async {
        exit(await CLI.run(Array(CommandLine.arguments.dropFirst())))
    }
}
