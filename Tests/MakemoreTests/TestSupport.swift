import Foundation
import Testing

@testable import Makemore

/// A tensor of `shape` with N(0,1) · `scale` + `shift` elements from `generator`.
func randomTensor<T: Scalar>(
    _ shape: [Int], _ generator: inout SeededGenerator, scale: Double = 1, shift: Double = 0, as: T.Type = T.self
) -> Tensor<T> {
    let tensor = Tensor<T>(shape: shape)
    for i in 0..<tensor.count { tensor[i] = T(shift + scale * generator.nextNormal()) }
    return tensor
}

/// Central finite differences of `loss` with respect to each element of `input`, in Double.
func numericalGradient(of input: Tensor<Double>, step: Double = 1e-6, _ loss: () -> Double) -> Tensor<Double> {
    let result = Tensor<Double>(shape: input.shape)
    for k in 0..<input.count {
        let original = input[k]
        input[k] = original + step
        let plus = loss()
        input[k] = original - step
        let minus = loss()
        input[k] = original
        result[k] = (plus - minus) / (2 * step)
    }
    return result
}

/// `Σ a ⊙ b`: a scalar loss whose gradient with respect to `a` is `b`.
func dot(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double {
    precondition(a.count == b.count)
    var sum = 0.0
    for i in 0..<a.count { sum += a[i] * b[i] }
    return sum
}

/// Expects two tensors to have the same shape and elements within `tolerance`.
func expectClose<T: Scalar>(
    _ actual: Tensor<T>, _ expected: Tensor<T>, tolerance: T, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.shape == expected.shape, "\(what): shape", sourceLocation: sourceLocation)
    let difference = actual.maxAbsDifference(expected)
    #expect(difference <= tolerance, "\(what): maxdiff \(difference) > \(tolerance)", sourceLocation: sourceLocation)
}

/// A file in a fresh temporary directory, removed by the caller's `defer`.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("makemore-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Expects `body` to throw a `MakemoreError` whose message contains each of `fragments`.
func expectError(
    containing fragments: String..., sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
    } catch let error as MakemoreError {
        for fragment in fragments {
            #expect(error.message.contains(fragment), "'\(error.message)' lacks '\(fragment)'", sourceLocation: sourceLocation)
        }
        #expect(!error.message.contains("\n"), "message is not one line: \(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}
