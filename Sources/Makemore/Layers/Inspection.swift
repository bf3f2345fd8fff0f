/// What a model shows of its last plain `forward` and `backward` for diagnostics (part 3 of the
/// lecture: are the activations saturated, do the gradients flow): each nonlinearity's output and
/// the gradient arriving at it, and each batch-norm's input beside its running statistics.

/// The kind of a nonlinearity, which decides what "saturated" means for it.
public enum NonlinearityKind: String, Sendable, CaseIterable {
    /// `tanh`: saturated where `|t| > 0.97`, the lecture's threshold (its derivative `1 - t²` is then below 0.06).
    case tanh
    /// GELU: has no saturated end above; a unit is dead where its output is close to zero for
    /// every example of the batch.
    case gelu
    /// A sigmoid gate (the GRU's): saturated where its output is below 0.03 or above 0.97.
    case sigmoid
}

/// One nonlinearity of a model after a plain `forward` and `backward`: its output and the
/// gradient of the loss with respect to that output, both `(rows, features)` over the same rows.
public struct NonlinearityOutput {
    /// A name that says where it sits (`tanh 1`, `block 2 gelu`, `gate z`).
    public let name: String
    /// Which nonlinearity.
    public let kind: NonlinearityKind
    /// Its output on the batch, `(rows, features)`.
    public let output: Tensor<Float>
    /// The gradient of the mean loss with respect to `output`, the same shape.
    public let gradient: Tensor<Float>

    /// A nonlinearity named `name` of kind `kind` with its `output` and the `gradient` arriving at it.
    public init(name: String, kind: NonlinearityKind, output: Tensor<Float>, gradient: Tensor<Float>) {
        precondition(output.count == gradient.count, "an output and its gradient have the same size")
        self.name = name
        self.kind = kind
        self.output = output
        self.gradient = gradient
    }
}

/// One batch-norm layer after a plain `forward` in training mode: its input, whose column means
/// and variances are the batch statistics, beside its running statistics.
public struct BatchNormInput {
    /// A name that says where it sits (`batchnorm 1`, `level 2`).
    public let name: String
    /// The layer's input on the batch, `(rows, features)`: the batch statistics are its column
    /// mean and variance.
    public let input: Tensor<Float>
    /// The running mean, `features` values (after the forward's update of it).
    public let runningMean: Tensor<Float>
    /// The running variance, `features` values (after the forward's update of it).
    public let runningVariance: Tensor<Float>

    /// The batch-norm `name` with its `input` and running statistics.
    public init(name: String, input: Tensor<Float>, runningMean: Tensor<Float>, runningVariance: Tensor<Float>) {
        self.name = name
        self.input = input
        self.runningMean = runningMean
        self.runningVariance = runningVariance
    }
}
