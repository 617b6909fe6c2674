// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "cutover",
    products: [
        .executable(name: "cutover", targets: ["cutover"]),
        .executable(name: "cutover-bench", targets: ["CutoverBench"]),
    ],
    targets: [
        // System libraries: the only places C enters, each wrapped by one Swift module.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // libcurl and libpq are not linked: their headers give the types, and each library is
        // opened the first time a transfer or a connection needs it (see CCurl/lazy.h), so a
        // command that makes neither does not load the thirty libraries they bring.
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CPostgres", providers: [.apt(["libpq-dev"])]),
        // Linux calls Swift cannot make directly (variadic prctl) or should not make piecemeal
        // (posix_spawn into a process group): header only, no library.
        .systemLibrary(name: "CLinux"),

        .target(name: "CutoverCore"),
        // The version and the commit of the sources, written at build time by BuildInfoPlugin.
        .target(name: "CutoverBuildInfo", plugins: ["BuildInfoPlugin"]),
        .plugin(name: "BuildInfoPlugin", capability: .buildTool()),
        .target(name: "CutoverCrypto", dependencies: ["COpenSSL"]),
        // The store's contract kept once (the chain, fencing, group commit); one adapter per database.
        .target(name: "CutoverStore", dependencies: ["CutoverCore", "CutoverCrypto"]),
        .target(name: "CutoverSQLite", dependencies: ["CutoverCore", "CutoverStore", "CSQLite"]),
        .target(name: "CutoverPostgresStore", dependencies: ["CutoverCore", "CutoverStore", "CutoverPQ"]),
        // Transport: HTTP (libcurl), sockets, DNS queries. Knows no vendor.
        .target(name: "CutoverNet", dependencies: ["CutoverCore", "CCurl", "CutoverCrypto"]),
        // What steps need from a cloud (instance group, DNS zone, object store, replica), vendor-neutral.
        .target(name: "CutoverProviders", dependencies: ["CutoverCore"]),
        // Vendors: one adapter module each, over the transport.
        .target(name: "CutoverAWS", dependencies: ["CutoverCore", "CutoverProviders", "CutoverNet", "CutoverCrypto"]),
        .target(name: "CutoverPowerDNS", dependencies: ["CutoverCore", "CutoverProviders", "CutoverNet"]),
        .target(name: "CutoverRedis", dependencies: ["CutoverCore", "CutoverProviders", "CutoverNet"]),
        .target(name: "CutoverGoogle", dependencies: ["CutoverCore", "CutoverProviders", "CutoverNet", "CutoverCrypto"]),
        .target(name: "CutoverAlertmanager", dependencies: ["CutoverCore", "CutoverProviders", "CutoverNet"]),
        // libpq, wrapped once: the postgres provider and the PostgreSQL store both speak through it.
        .target(name: "CutoverPQ", dependencies: ["CutoverCore", "CPostgres"]),
        .target(name: "CutoverPostgres", dependencies: ["CutoverCore", "CutoverProviders", "CutoverNet", "CutoverPQ"]),
        .target(name: "CutoverEngine", dependencies: ["CutoverCore"]),
        // Step types: speak capabilities and HTTP, never a vendor.
        .target(name: "CutoverSteps", dependencies: ["CutoverCore", "CutoverProviders", "CutoverNet", "CutoverCrypto", "CLinux"]),
        .target(name: "CutoverAudit", dependencies: ["CutoverCore", "CutoverStore", "CutoverCrypto"]),
        .target(name: "CutoverShipping", dependencies: ["CutoverCore", "CutoverStore", "CutoverProviders", "CutoverCrypto"]),
        .target(name: "CutoverSchedule", dependencies: ["CutoverCore", "CutoverEngine", "CutoverAudit", "CutoverStore"]),
        .target(
            name: "CutoverCLI",
            dependencies: [
                "CutoverCore", "CutoverStore", "CutoverSQLite", "CutoverPostgresStore", "CutoverEngine", "CutoverSteps", "CutoverAudit", "CutoverCrypto",
                "CutoverShipping", "CutoverSchedule", "CutoverBuildInfo", "CutoverNet", "CutoverProviders", "CutoverAWS", "CutoverGoogle", "CutoverPowerDNS", "CutoverRedis", "CutoverAlertmanager", "CutoverPostgres",
            ]
        ),
        .executableTarget(name: "cutover", dependencies: ["CutoverCLI"]),
        .executableTarget(
            name: "CutoverBench",
            dependencies: [
                "CutoverCore", "CutoverStore", "CutoverSQLite", "CutoverPostgresStore", "CutoverEngine", "CutoverCrypto", "CutoverAudit",
                "CutoverSteps", "CutoverProviders", "CutoverNet", "CutoverAWS", "CutoverGoogle", "CutoverShipping",
            ]
        ),

        .target(
            name: "TestSupport",
            dependencies: [
                "CutoverCore", "CutoverStore", "CutoverSQLite", "CutoverPostgresStore", "CutoverEngine", "CutoverSteps", "CutoverNet", "CutoverProviders",
                "CutoverAWS", "CutoverGoogle", "CutoverPowerDNS", "CutoverRedis", "CutoverAlertmanager", "CutoverPostgres",
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "CutoverCoreTests", dependencies: ["CutoverCore", "CutoverSteps", "CutoverEngine", "TestSupport"]),
        .testTarget(name: "CutoverStoreTests", dependencies: ["CutoverStore", "CutoverSQLite", "CutoverPostgresStore", "CutoverCrypto", "TestSupport"]),
        .testTarget(name: "CutoverEngineTests", dependencies: ["CutoverEngine", "CutoverStore", "TestSupport"]),
        .testTarget(
            name: "CutoverStepsTests",
            dependencies: ["CutoverSteps", "CutoverEngine", "CutoverStore", "CutoverNet", "CutoverProviders", "TestSupport"]
        ),
        .testTarget(
            name: "CutoverAdapterTests",
            dependencies: ["CutoverNet", "CutoverAWS", "CutoverGoogle", "CutoverPostgres", "CutoverRedis", "CutoverCrypto", "CutoverCore", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "CutoverAuditTests", dependencies: ["CutoverAudit", "CutoverStore", "CutoverSQLite", "CutoverCrypto", "CutoverEngine", "TestSupport"]),
        .testTarget(
            name: "CutoverScheduleTests", dependencies: ["CutoverSchedule", "CutoverCore", "CutoverEngine", "CutoverStore", "CutoverAudit", "TestSupport"]
        ),
        .testTarget(
            name: "SandboxTests",
            dependencies: [
                "cutover", "CutoverCore", "CutoverStore", "CutoverSQLite", "CutoverEngine", "CutoverSteps", "CutoverNet", "CutoverProviders", "CutoverAWS",
                "CutoverGoogle", "CutoverPowerDNS", "CutoverRedis", "CutoverCrypto", "CutoverShipping", "TestSupport",
            ]),
        .testTarget(name: "CutoverCLITests", dependencies: ["cutover", "CutoverCore", "CutoverStore", "CutoverSQLite", "CutoverPostgresStore", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
