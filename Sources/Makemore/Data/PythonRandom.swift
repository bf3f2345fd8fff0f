/// CPython's `random.Random`, as far as `random.seed(n)` and `random.shuffle(x)` go: the
/// Mersenne Twister (MT19937) seeded the way CPython seeds it from an integer, and the
/// Fisher-Yates shuffle drawing through `_randbelow` and `getrandbits`.
///
/// With it, `shuffle(&words)` after `init(seed: 42)` puts the words in the same order as
/// the lecture's `random.seed(42); random.shuffle(words)`, so the splits are the same.
struct PythonRandom: Sendable {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// `random.seed(seed)` for a non-negative integer: `init_by_array` with the 32-bit words of
    /// the integer, least significant first (CPython seeds with `abs(seed)`).
    init(seed: UInt64) {
        var key: [UInt32] = []
        var rest = seed
        repeat {
            key.append(UInt32(truncatingIfNeeded: rest))
            rest >>= 32
        } while rest != 0
        initialize(byArray: key)
    }

    private mutating func initialize(seed: UInt32) {
        state[0] = seed
        for i in 1..<624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
        index = 624
    }

    private mutating func initialize(byArray key: [UInt32]) {
        initialize(seed: 19_650_218)
        var i = 1, j = 0
        for _ in 0..<Swift.max(624, key.count) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1
            j += 1
            if i >= 624 { state[0] = state[623]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= 624 { state[0] = state[623]; i = 1 }
        }
        state[0] = 0x8000_0000
    }

    /// The next 32 random bits: `genrand_uint32`.
    mutating func next32() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
            state[i] = state[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908_B0DF : 0)
        }
        index = 0
    }

    /// `random.getrandbits(k)` for `1 <= k <= 32`.
    mutating func randomBits(_ k: Int) -> UInt32 {
        precondition(1 <= k && k <= 32)
        return next32() >> (32 - UInt32(k))
    }

    /// `random._randbelow(n)`: a uniform integer in `0..<n` by rejection sampling of `n.bit_length()` bits.
    mutating func randomBelow(_ n: Int) -> Int {
        precondition(n > 0 && n <= Int(UInt32.max))
        let k = Int.bitWidth - n.leadingZeroBitCount
        var r = Int(randomBits(k))
        while r >= n { r = Int(randomBits(k)) }
        return r
    }

    /// `random.shuffle(x)`.
    mutating func shuffle<Element>(_ elements: inout [Element]) {
        var i = elements.count - 1
        while i >= 1 {
            let j = randomBelow(i + 1)
            elements.swapAt(i, j)
            i -= 1
        }
    }
}
