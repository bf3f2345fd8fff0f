import Foundation
import Testing

@testable import Makemore

/// The SIMD `exp` and `tanh` against Double's, within a few ulp, at counts around the vector width,
/// for every build of the C kernels this CPU runs.
@Suite struct VectorMathTests {
    static let counts = [0, 1, 2, 15, 16, 17, 27, 33, 64, 200]

    static func inputs(_ count: Int, range: ClosedRange<Double>, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float(range.lowerBound + (range.upperBound - range.lowerBound) * g.nextUniform()) }
    }

    @Test(arguments: counts)
    func tanhIsWithinTwoUlps(count: Int) {
        var x = Self.inputs(count, range: -9...9, seed: UInt64(count))
        if count >= 6 { x[0] = 0; x[1] = -0.624; x[2] = 0.625; x[3] = 1e-6; x[4] = -30; x[5] = 30 }
        var out = [Float](repeating: .nan, count: count)
        for variant in KernelVariant.supported {
            variant.tanh(x, into: &out, count: count)
            for i in 0..<count {
                let expected = Float(Foundation.tanh(Double(x[i])))
                #expect(Swift.abs(out[i] - expected) <= 2 * expected.ulp, "\(variant): tanh(\(x[i])) = \(out[i]), expected \(expected)")
            }
        }
    }

    @Test(arguments: counts)
    func expIsWithinTwoUlpsAndSums(count: Int) {
        let x = Self.inputs(count, range: -80...20, seed: UInt64(100 + count))
        var out = [Float](repeating: .nan, count: count)
        let shift: Float = 3.5
        for variant in KernelVariant.supported {
            let sum = variant.exp(x, minus: shift, into: &out, count: count)
            var expectedSum = 0.0
            for i in 0..<count {
                let exact = Foundation.exp(Double(x[i] - shift))
                expectedSum += exact
                let expected = Float(exact)
                #expect(Swift.abs(out[i] - expected) <= 2 * expected.ulp, "\(variant): exp(\(x[i] - shift)) = \(out[i]), expected \(expected)")
            }
            #expect(Swift.abs(Double(sum) - expectedSum) <= 1e-5 * Swift.max(1, expectedSum), "\(variant)")
        }
    }

    @Test(arguments: KernelVariant.supported)
    func specialValues(variant: KernelVariant) {
        var out = [Float](repeating: 0, count: 4)
        _ = variant.exp([.nan, 0, -.infinity, -200], minus: 0, into: &out, count: 4)
        #expect(out[0].isNaN && out[1] == 1 && out[2] < 1e-37 && out[3] < 1e-37)
        variant.tanh([.nan, .infinity, -.infinity, 0], into: &out, count: 4)
        #expect(out[0].isNaN && out[1] == 1 && out[2] == -1 && out[3] == 0)
    }
}
