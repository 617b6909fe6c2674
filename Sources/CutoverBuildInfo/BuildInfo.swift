/// Which version this is and the commit it was built from. `commit` is written at build time
/// by `BuildInfoPlugin` (`git rev-parse HEAD`, with `-modified` when tracked files had
/// uncommitted changes); it is empty for a build outside a git checkout.
public enum BuildInfo {
    public static let version = "0.1.0"
}
