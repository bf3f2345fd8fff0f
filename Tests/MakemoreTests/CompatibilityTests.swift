import Foundation
import Testing

@testable import Makemore

/// A run directory written by the version before models had names (`format` `makemore-mlp`, no
/// `model` key): 300 steps of `train --steps 300 --eval-every 100 --hidden 16 --threads 1` on the
/// bundled names. The figures below are what that version's release build printed for it; the
/// tests run a debug build, which rounds float32 products without fused multiply-adds, so they
/// compare to 1e-6 (a wrong model misses by far more; the release binary gives the same digits,
/// which `.ci/run` checks with `makemore eval` on this fixture).
@Suite struct CompatibilityTests {
    static let directory = Bundle.module.url(forResource: "Fixtures/mlp-before-models", withExtension: nil)!

    /// `makemore eval --json` of the old version on this checkpoint.
    static let losses = (train: 2.660357720361353, dev: 2.6527320340884177, test: 2.66171460725979)
    /// `makemore train --resume --steps 400`, then `eval --json`, with the old version.
    static let resumedLosses = (train: 2.617479388275512, dev: 2.6091263062694536, test: 2.6214952346253226)

    static func splits() throws -> Splits {
        try Splits(words: WordList.bundledNames(), blockSize: 3)
    }

    @Test func anOldCheckpointLoadsAsAnMLPAndEvaluatesAsBefore() throws {
        let checkpoint = try Checkpoint(contentsOf: Self.directory.appendingPathComponent("model.safetensors"))
        #expect(checkpoint.model.name == "mlp")
        #expect(checkpoint.model.config as? MLPConfig == MLPConfig(vocabularySize: 27, hiddenSize: 16))
        #expect(checkpoint.step == 300 && checkpoint.finished)
        let losses = SplitLosses(model: checkpoint.model, splits: try Self.splits())
        #expect(Swift.abs(losses.train - Self.losses.train) < 1e-6)
        #expect(Swift.abs(losses.dev - Self.losses.dev) < 1e-6)
        #expect(Swift.abs(losses.test - Self.losses.test) < 1e-6)
    }

    @Test func anOldRunResumesAsBefore() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for file in ["model.safetensors", "log.csv"] {
            try FileManager.default.copyItem(
                at: Self.directory.appendingPathComponent(file), to: directory.appendingPathComponent(file))
        }
        let run = try RunDirectory(path: directory.path)
        let checkpoint = try Checkpoint(contentsOf: run.model)
        var options = checkpoint.options
        options.steps = 400
        let splits = try Self.splits()
        let trainer = try Trainer(resuming: checkpoint, options: options, splits: splits, log: try run.readLog())
        #expect(try trainer.train() == .finished)
        trainer.finish()
        let losses = SplitLosses(model: trainer.model, splits: splits)
        #expect(Swift.abs(losses.train - Self.resumedLosses.train) < 1e-6)
        #expect(Swift.abs(losses.dev - Self.resumedLosses.dev) < 1e-6)
        #expect(Swift.abs(losses.test - Self.resumedLosses.test) < 1e-6)
        // The saved checkpoint now names its model.
        try run.save(trainer.checkpoint(finished: true), log: trainer.log)
        #expect(try SafeTensors(contentsOf: run.model).metadata["model"] == "mlp")
    }
}
