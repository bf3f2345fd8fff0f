// swift-tools-version: 6.0
import PackageDescription

// A package of its own that uses swift-makemore as a library: TrainAndSample trains a small MLP
// on words.txt, saves and reloads the checkpoint, samples and evaluates; ReadmeExample is the
// README's shorter version of the same.
// CI builds it twice: as it stands (the library by path) and with the dependency line below
// replaced by a version of a clone (the way a user's package depends on it).
let package = Package(
    name: "TrainAndSample",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-makemore", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "TrainAndSample",
            dependencies: [.product(name: "Makemore", package: "swift-makemore")]
        ),
        // The README's example, word for word (scripts/example-consumer checks that they agree).
        .executableTarget(
            name: "ReadmeExample",
            dependencies: [.product(name: "Makemore", package: "swift-makemore")]
        ),
    ]
)
