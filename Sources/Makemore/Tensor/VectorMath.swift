/// `exp` and `tanh` over arrays of `Float`, sixteen lanes at a time: the element-wise steps that
/// the C library would otherwise do one call per element (at the lecture's shape, 6,400 `tanhf`
/// calls a step cost more than all the matrix products).
///
/// Both are Cephes' single-precision algorithms, within 1 ulp of the correctly rounded result
/// over the ranges used here (checked against Double in the tests). Lane selection is written
/// with integer bit operations: Swift's SIMD comparisons compile to slow mask shuffles.
public enum VectorMath {
    /// `out[i] = exp(x[i] - shift)` for `i < count`; returns the sum of the results.
    @inlinable
    public static func exp(_ x: UnsafePointer<Float>, minus shift: Float, into out: UnsafeMutablePointer<Float>, count: Int) -> Float {
        var sum = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            let e = exp16(load(x + i) - SIMD16(repeating: shift))
            store(e, out + i)
            sum += e
            i += 16
        }
        var total = sum.sum()
        if i < count {
            var tail = SIMD16<Float>(repeating: -100)  // exp(-100 - shift) is never stored
            for j in 0..<(count - i) { tail[j] = x[i + j] }
            let e = exp16(tail - SIMD16(repeating: shift))
            for j in 0..<(count - i) {
                out[i + j] = e[j]
                total += e[j]
            }
        }
        return total
    }

    /// `out[i] = tanh(x[i])` for `i < count`.
    @inlinable
    public static func tanh(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            store(tanh16(load(x + i)), out + i)
            i += 16
        }
        if i < count {
            var tail = SIMD16<Float>()
            for j in 0..<(count - i) { tail[j] = x[i + j] }
            let t = tanh16(tail)
            for j in 0..<(count - i) { out[i + j] = t[j] }
        }
    }

    /// `e^x`: `x = n ln2 + r` with `|r| <= ln2/2`, a degree-7 polynomial for `e^r`, and `2^n` built
    /// in the exponent bits. Inputs are clamped to the range where the result is a normal float.
    @inlinable @inline(__always)
    public static func exp16(_ input: SIMD16<Float>) -> SIMD16<Float> {
        var x = pointwiseMin(pointwiseMax(input, SIMD16(repeating: -87.33654)), SIMD16(repeating: 88.72283))
        // n = round(x / ln 2) by adding 1.5·2²³: the low bits of t then hold n.
        let t = fma(x, SIMD16(repeating: 1.44269504088896341), SIMD16(repeating: 12_582_912))
        let n = t - SIMD16(repeating: 12_582_912)
        x = fma(n, SIMD16(repeating: -0.693359375), x)  // ln 2 in two parts, for an exact r
        x = fma(n, SIMD16(repeating: 2.12194440e-4), x)
        var y = SIMD16<Float>(repeating: 1.9875691500e-4)
        y = fma(y, x, SIMD16(repeating: 1.3981999507e-3))
        y = fma(y, x, SIMD16(repeating: 8.3334519073e-3))
        y = fma(y, x, SIMD16(repeating: 4.1665795894e-2))
        y = fma(y, x, SIMD16(repeating: 1.6666665459e-1))
        y = fma(y, x, SIMD16(repeating: 5.0000001201e-1))
        y = fma(y, x * x, x) + 1
        let scale = (bits(t) &- bits(SIMD16(repeating: 12_582_912)) &+ 127) &<< 23
        return propagatingNaN(from: input, to: y * float(scale))
    }

    /// `tanh x`: for `|x| < 0.625` an odd polynomial, else `±(1 - 2 / (e^{2|x|} + 1))`.
    @inlinable @inline(__always)
    public static func tanh16(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let sign = bits(x) & 0x8000_0000
        let magnitude = float(bits(x) & 0x7FFF_FFFF)
        let z = x * x
        var p = SIMD16<Float>(repeating: -5.70498872745e-3)
        p = fma(p, z, SIMD16(repeating: 2.06390887954e-2))
        p = fma(p, z, SIMD16(repeating: -5.37397155531e-2))
        p = fma(p, z, SIMD16(repeating: 1.33314422036e-1))
        p = fma(p, z, SIMD16(repeating: -3.33332819422e-1))
        let small = fma(p * z, x, x)
        let large = float(bits(1 - 2 / (exp16(2 * magnitude) + 1)) | sign)
        // All ones where |x| < 0.625: bit patterns of non-negative floats order like the floats.
        let useSmall = SIMD16<UInt32>() &- ((bits(magnitude) &- bits(SIMD16(repeating: 0.625))) &>> 31)
        return propagatingNaN(from: x, to: float((bits(small) & useSmall) | (bits(large) & ~useSmall)))
    }

    /// `result`, with NaN in the lanes where `input` is NaN: the clamping above would otherwise
    /// turn a NaN into a number, and a diverging run must show up as a NaN loss.
    @inlinable @inline(__always)
    static func propagatingNaN(from input: SIMD16<Float>, to result: SIMD16<Float>) -> SIMD16<Float> {
        // A float is NaN when its magnitude bits exceed those of infinity.
        let magnitude = bits(input) & 0x7FFF_FFFF
        let isNaN = SIMD16<UInt32>() &- ((SIMD16(repeating: 0x7F80_0000) &- magnitude) &>> 31)
        return float(bits(result) | (isNaN & 0x7FC0_0000))
    }

    @inlinable @inline(__always)
    static func bits(_ x: SIMD16<Float>) -> SIMD16<UInt32> { unsafeBitCast(x, to: SIMD16<UInt32>.self) }

    @inlinable @inline(__always)
    static func float(_ x: SIMD16<UInt32>) -> SIMD16<Float> { unsafeBitCast(x, to: SIMD16<Float>.self) }

    @inlinable @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inlinable @inline(__always)
    static func store(_ value: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD16<Float>.self)
    }

    /// `a · b + c`, fused where the build targets a processor with FMA (see Package.swift);
    /// otherwise two operations, since a fused multiply-add without the instruction is a
    /// library call per lane.
    @inlinable @inline(__always)
    static func fma(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
        #if MAKEMORE_FMA || arch(arm64)
            return c.addingProduct(a, b)
        #else
            return a * b + c
        #endif
    }
}
