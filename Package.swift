// swift-tools-version:6.1
import PackageDescription

/// sv: a process supervisor for Linux. See docs/architecture.md for the shape of the package.
let strict: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"], .when(configuration: .debug))
]

/// The daemon's code, built for a small footprint in release (design.md §8): one section per
/// function so lld can pack the hot ones together, and no implicit _StringProcessing.
let daemon: [SwiftSetting] = strict + [
    .unsafeFlags(
        ["-Xfrontend", "-function-sections", "-Xfrontend", "-disable-implicit-string-processing-module-import"],
        .when(configuration: .release))
]

/// Release links of sv and svd search .build-link first: Scripts/install puts a linker script
/// there that links libstdc++ statically (Scripts/lib/deps.sh says why).
let staticLink: [LinkerSetting] = [
    .unsafeFlags(["-L\(Context.packageDirectory)/.build-link"], .when(configuration: .release))
]

/// sv's release link: lld with its own order file, and not position-independent: a PIE of this
/// size applies ~38,000 relocations at every start, dirtying pages (perf stat: 316 → 197 page
/// faults, 1.43 → 1.25 ms per `sv ping`). svd stays PIE: it runs for long, often as root.
let clientLink: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-use-ld=lld", "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Scripts/sv.order",
            "-Xlinker", "--no-warn-symbol-ordering", "-Xlinker", "-no-pie",
        ], .when(configuration: .release))
] + staticLink

/// svd's release link: lld with the order file Scripts/order-file.sh makes from a profiled run,
/// and compact relative relocations (glibc 2.36 reads DT_RELR).
let daemonLink: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-use-ld=lld", "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Scripts/svd.order",
            "-Xlinker", "--no-warn-symbol-ordering", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
        ], .when(configuration: .release))
] + staticLink

let package = Package(
    name: "sv",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sv", targets: ["sv"]),
        .executable(name: "svd", targets: ["svd"]),
        .executable(name: "sv-yaml", targets: ["sv-yaml"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", exact: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", exact: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
    ],
    targets: [
        .target(name: "CShims"),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CSystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "SVCore", swiftSettings: daemon),
        .target(
            name: "SVLinux",
            dependencies: [
                "SVCore", "CShims",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: daemon),
        .target(
            name: "SVStore", dependencies: ["SVCore", "CSQLite"], swiftSettings: daemon,
            linkerSettings: [
                .linkedLibrary("sqlite3", .when(configuration: .debug)),
                // libsqlite3.a from libsqlite3-dev: only the code svd uses is mapped.
                .unsafeFlags(["-Xlinker", "-l:libsqlite3.a"], .when(configuration: .release)),
            ]),
        .target(name: "SVProtocol", dependencies: ["SVCore"], swiftSettings: daemon),
        .target(
            name: "SVDaemon",
            dependencies: [
                "SVCore", "SVLinux", "SVStore", "SVProtocol", "CShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: daemon),
        .target(
            name: "SVClient",
            dependencies: [
                "SVCore", "SVProtocol", "CShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(name: "svd", dependencies: ["SVDaemon"], swiftSettings: daemon, linkerSettings: daemonLink),
        .executableTarget(name: "sv", dependencies: ["SVClient"], swiftSettings: strict, linkerSettings: clientLink),
        // YAML ecosystem files are read by this helper, which sv runs as it runs node for
        // .config.js files: Yams needs Foundation (ICU included), which would make every `sv`
        // command pay for a 60 MB binary and thousands more conformance records (docs/ecosystem.md).
        .executableTarget(
            name: "sv-yaml", dependencies: ["SVProtocol", .product(name: "Yams", package: "Yams")], swiftSettings: strict),
        .executableTarget(name: "testchild", swiftSettings: strict),
        .testTarget(name: "SVCoreTests", dependencies: ["SVCore"]),
        .testTarget(name: "SVProtocolTests", dependencies: ["SVProtocol", "SVCore"]),
        .testTarget(name: "SVLinuxTests", dependencies: ["SVLinux", "SVCore", "CShims"]),
        .testTarget(name: "SVStoreTests", dependencies: ["SVStore"], exclude: ["Fixtures"]),
        .testTarget(name: "IntegrationTests", dependencies: ["SVProtocol", "SVCore", "CShims", "SVStore"]),
    ],
    swiftLanguageModes: [.v6]
)
