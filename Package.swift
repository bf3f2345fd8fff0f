// swift-tools-version: 6.0
import PackageDescription

// Release builds on Linux compile for the processor they run on (`-target-cpu native`), so that
// the SIMD kernels get AVX2/AVX-512 and fused multiply-adds instead of baseline SSE2; the
// benchmarks in bench/RESULTS.md were measured so. MAKEMORE_PORTABLE=1 builds for the baseline
// instead, for a binary that must run on other machines. On Apple silicon the baseline already
// has NEON and FMA, so nothing is added there.
let portable = Context.environment["MAKEMORE_PORTABLE"] != nil
let kernelSettings: [SwiftSetting] =
    portable
    ? []
    : [
        .unsafeFlags(["-target-cpu", "native"], .when(platforms: [.linux], configuration: .release)),
        .define("MAKEMORE_FMA", .when(platforms: [.linux], configuration: .release)),
    ]

let package = Package(
    name: "Makemore",
    products: [
        .library(name: "Makemore", targets: ["Makemore"]),
        .executable(name: "makemore", targets: ["makemore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "Makemore",
            resources: [.copy("Resources/names.txt")],
            swiftSettings: kernelSettings
        ),
        .executableTarget(
            name: "makemore",
            dependencies: [
                "Makemore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "MakemoreTests", dependencies: ["Makemore"]),
    ]
)
