// swift-tools-version:6.1
import PackageDescription

/// sv: a process supervisor for Linux. See docs/architecture.md for the shape of the package.
let strict: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"], .when(configuration: .debug))
]

let package = Package(
    name: "sv",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sv", targets: ["sv"]),
        .executable(name: "svd", targets: ["svd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", exact: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", exact: "1.6.0"),
    ],
    targets: [
        .target(name: "CShims"),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CSystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "SVCore", swiftSettings: strict),
        .target(
            name: "SVLinux",
            dependencies: [
                "SVCore", "CShims",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        .target(name: "SVStore", dependencies: ["SVCore", "CSQLite"], swiftSettings: strict),
        .target(name: "SVProtocol", dependencies: ["SVCore"], swiftSettings: strict),
        .target(
            name: "SVDaemon",
            dependencies: [
                "SVCore", "SVLinux", "SVStore", "SVProtocol", "CShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        .target(
            name: "SVClient",
            dependencies: [
                "SVCore", "SVProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(name: "svd", dependencies: ["SVDaemon"], swiftSettings: strict),
        .executableTarget(name: "sv", dependencies: ["SVClient"], swiftSettings: strict),
        .executableTarget(name: "testchild", swiftSettings: strict),
        .testTarget(name: "SVCoreTests", dependencies: ["SVCore"]),
        .testTarget(name: "SVProtocolTests", dependencies: ["SVProtocol", "SVCore"]),
        .testTarget(name: "SVLinuxTests", dependencies: ["SVLinux", "SVCore", "CShims"]),
        .testTarget(name: "SVStoreTests", dependencies: ["SVStore"]),
        .testTarget(name: "IntegrationTests", dependencies: ["SVProtocol", "SVCore", "CShims"]),
    ],
    swiftLanguageModes: [.v6]
)
