// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Makemore",
    // macOS 15 for the Synchronization module's Atomic (the tool's Ctrl-C flag).
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Makemore", targets: ["Makemore"]),
        .executable(name: "makemore", targets: ["makemore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // The Float kernels (matrix products, exp, tanh), in C so that each is built for several
        // instruction sets and picked at run time: no compiler flags, full speed on any x86-64.
        .target(name: "CMakemoreKernels"),
        .target(
            name: "Makemore",
            dependencies: ["CMakemoreKernels"],
            resources: [.copy("Resources/names.txt")]
        ),
        .executableTarget(
            name: "makemore",
            dependencies: [
                "Makemore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The fuzz targets' driver: scripts/fuzz builds it with libFuzzer; built plainly, it
        // replays files (the corpus and past crashes).
        .executableTarget(name: "makemore-fuzz", dependencies: ["Makemore"]),
        .testTarget(name: "MakemoreTests", dependencies: ["Makemore"], resources: [.copy("Fixtures")]),
    ]
)
