import Foundation

/// The train / val / test losses of a model, batch-norm in evaluation mode.
public struct SplitLosses: Sendable {
    public let train, val, test: Double

    // Non-generic on purpose: callers outside this module get the Float-specialised model code.
    public init(model: MLP<Float>, splits: Splits) {
        train = model.loss(on: splits.train)
        val = model.loss(on: splits.dev)
        test = model.loss(on: splits.test)
    }

    /// `train 2.0709`, `val   2.1086`, `test  2.1102`, one a line.
    public var table: String {
        String(format: "train %.4f\nval   %.4f\ntest  %.4f", train, val, test)
    }
}
