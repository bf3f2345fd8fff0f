import Foundation

/// The losses of a model on the three splits, in evaluation mode. The dev split's loss is printed
/// as `val`, the lecture's `split_loss('val')`.
public struct SplitLosses: Sendable {
    /// The mean cross-entropy (nats per character) over each split: train, dev (`val`), test.
    public let train, dev, test: Double

    /// `progress` is told each split's name and size before it is evaluated.
    public init(model: any LanguageModel, splits: Splits, progress: (String, Int) -> Void = { _, _ in }) {
        progress("train", splits.train.count)
        train = model.loss(on: splits.train)
        progress("dev", splits.dev.count)
        dev = model.loss(on: splits.dev)
        progress("test", splits.test.count)
        test = model.loss(on: splits.test)
    }

    /// `train 2.0709`, `val   2.1086`, `test  2.1102`, one a line.
    package var table: String {
        String(format: "train %.4f\nval   %.4f\ntest  %.4f", train, dev, test)
    }
}
