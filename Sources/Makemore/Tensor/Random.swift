/// The seeded generator for initial values, batches and samples: xoshiro256** seeded through
/// SplitMix64. Its whole state is four words, saved in checkpoints so that a resumed run draws
/// the same batches as an uninterrupted one.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    /// The four words of xoshiro256**'s state.
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose state is four SplitMix64 outputs from `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// Restores a generator from `stateWords`.
    public init(stateWords: [UInt64]) {
        precondition(stateWords.count == 4)
        state = (stateWords[0], stateWords[1], stateWords[2], stateWords[3])
    }

    /// `state` as an array, as checkpoints store it.
    public var stateWords: [UInt64] { [state.0, state.1, state.2, state.3] }

    /// The next 64 random bits (xoshiro256**).
    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return result
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform double in `[0, 1)` with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal draw (Box-Muller; one draw per call, so the stream is easy to follow).
    public mutating func nextNormal() -> Double {
        let u1 = 1 - nextUniform()  // (0, 1]
        let u2 = nextUniform()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    /// A uniform integer in `0..<n` (Lemire's multiply-shift with rejection).
    public mutating func nextIndex(below n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }

    public static func == (a: SeededGenerator, b: SeededGenerator) -> Bool { a.stateWords == b.stateWords }
}

import Foundation
private func _log(_ x: Double) -> Double { Foundation.log(x) }
private func _cos(_ x: Double) -> Double { Foundation.cos(x) }

extension Tensor {
    /// Every element `shift + scale · N(0, 1)`, drawn from `generator` in row-major order.
    public func fillNormal(scale: Double = 1, shift: Double = 0, using generator: inout SeededGenerator) {
        for i in 0..<count { self[i] = T(shift + scale * generator.nextNormal()) }
    }
}
