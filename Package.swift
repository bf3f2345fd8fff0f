// swift-tools-version: 6.0
import PackageDescription

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
            resources: [.copy("Resources/names.txt")]
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
