// swift-tools-version: 6.0
import PackageDescription

/// Release builds of the library are compiled for the building machine's CPU: the Float kernels
/// (Tensor/Matmul.swift, Tensor/VectorMath.swift) are written with SIMD types and fused
/// multiply-adds, which the default x86-64 target (SSE2, no FMA) turns into 4-lane code and
/// lane-by-lane `fmaf` calls.
/// `MAKEMORE_PORTABLE=1 swift build -c release` builds for the architecture's baseline instead
/// (binaries to copy to other machines; the kernels then run about 3.5 times slower on x86-64).
/// arm64 needs nothing: its baseline has NEON and FMA.
let portable = Context.environment["MAKEMORE_PORTABLE"].map { !$0.isEmpty && $0 != "0" } ?? false
var kernelSettings: [SwiftSetting] = []
#if arch(x86_64)
if !portable {
    kernelSettings = [
        .unsafeFlags(["-target-cpu", "native"], .when(configuration: .release)),
        // Tells the kernels that `addingProduct` compiles to vfmadd instructions.
        .define("MAKEMORE_FMA", .when(configuration: .release)),
    ]
}
#endif

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
        // The fuzz targets' driver: scripts/fuzz builds it with libFuzzer; built plainly, it
        // replays files (the corpus and past crashes).
        .executableTarget(name: "makemore-fuzz", dependencies: ["Makemore"]),
        .testTarget(name: "MakemoreTests", dependencies: ["Makemore"], resources: [.copy("Fixtures")]),
    ]
)
