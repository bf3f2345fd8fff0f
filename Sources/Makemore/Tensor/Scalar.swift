import Foundation

/// The floating-point types a model can be computed in: `Float` for training and the PyTorch
/// export, `Double` for the finite-difference reference of the gradient check.
///
/// The elementary functions are spelled out per type so that generic code calls the C library's
/// `expf`/`exp` directly rather than going through a slower generic path.
public protocol Scalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable, CustomStringConvertible
where Self.RawSignificand: FixedWidthInteger {
    /// `e^x` (`expf` or `exp`).
    static func exp(_ x: Self) -> Self
    /// The natural logarithm of `x` (`logf` or `log`).
    static func log(_ x: Self) -> Self
    /// The hyperbolic tangent of `x` (`tanhf` or `tanh`).
    static func tanh(_ x: Self) -> Self
    /// `x` to the power `y` (`powf` or `pow`).
    static func pow(_ x: Self, _ y: Self) -> Self

    /// `out[i] = tanh(x[i])` for `i < count`.
    static func tanh(_ x: UnsafePointer<Self>, into out: UnsafeMutablePointer<Self>, count: Int)
    /// `out[i] = exp(x[i])` for `i < count`; `out` may be `x`.
    static func exp(_ x: UnsafePointer<Self>, into out: UnsafeMutablePointer<Self>, count: Int)
}

extension Scalar {
    @inlinable
    public static func tanh(_ x: UnsafePointer<Self>, into out: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { out[i] = tanh(x[i]) }
    }

    @inlinable
    public static func exp(_ x: UnsafePointer<Self>, into out: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { out[i] = exp(x[i]) }
    }
}

extension Float: Scalar {
    @inlinable public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }

    /// Sixteen lanes at a time (`VectorMath`).
    @inlinable
    public static func tanh(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        VectorMath.tanh(x, into: out, count: count)
    }

    @inlinable
    public static func exp(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        _ = VectorMath.exp(x, minus: 0, into: out, count: count)
    }
}

extension Double: Scalar {
    @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inlinable public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
}
