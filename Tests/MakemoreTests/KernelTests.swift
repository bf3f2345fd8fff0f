#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

@testable import Makemore

/// The `Float` kernels of `Kernels` against `ReferenceKernels`, over sizes that meet every tiling
/// path: sizes below, at and past each tile width (8, 16, 24, 32) and row count (4, 8), the shapes of
/// the models, depths across the packing block (256), and products over the threading threshold
/// (a million multiply-adds; below it `threads` changes nothing), split into uneven parts.
/// Every operand sits against an inaccessible page, so a read or write outside it crashes.
@Suite struct MatmulKernelTests {
    static let awkward = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 27, 30, 31, 33, 64, 100, 200]

    /// Every (m, k, n) of `awkward` up to 20,000 multiply-adds, and each n from 1 to 72.
    static let sizes: [(Int, Int, Int)] = {
        var sizes: [(Int, Int, Int)] = []
        for m in awkward {
            for k in awkward {
                for n in awkward where m * k * n <= 20_000 { sizes.append((m, k, n)) }
            }
        }
        for n in 1...72 { sizes.append((9, 13, n)) }
        return sizes
    }()

    /// Products at the model shapes, around the depth block (256), with `b` packed (64 rows or more
    /// and 65,536 elements), and over the threading threshold with a short last part.
    static let largeSizes: [(Int, Int, Int)] = [
        (32, 30, 200), (32, 200, 27), (200, 32, 27), (32, 100, 100), (32, 255, 41), (32, 257, 41),
        (33, 513, 25), (64, 257, 256), (129, 257, 33), (9, 1024, 120), (17, 700, 90),
    ]

    @Test(arguments: sizes)
    func smallProductsMatchTheReference(size: (Int, Int, Int)) {
        checkAllProducts(m: size.0, k: size.1, n: size.2, threads: 1, fences: [true, false])
    }

    @Test(arguments: largeSizes, [1, 2, 3])
    func largeProductsMatchTheReference(size: (Int, Int, Int), threads: Int) {
        checkAllProducts(m: size.0, k: size.1, n: size.2, threads: threads, fences: [true])
    }

    /// `Double` keeps the plain loops.
    @Test func doubleProductsMatchTheReference() {
        var g = SeededGenerator(seed: 3)
        let (m, k, n) = (5, 7, 17)
        let a: Tensor<Double> = randomTensor([m, k], &g), b: Tensor<Double> = randomTensor([k, n], &g)
        let c = Tensor<Double>(shape: [m, n]), expected = Tensor<Double>(shape: [m, n])
        Kernels.matmul(a.pointer, b.pointer, into: c.pointer, m: m, k: k, n: n, threads: 2)
        ReferenceKernels.matmul(a.pointer, b.pointer, into: expected.pointer, m: m, k: k, n: n)
        expectClose(c, expected, tolerance: 1e-12, "matmul")
    }

    /// Each product of `(m, k, n)` against its reference, within a tolerance that grows with `k`, with
    /// the operands against the page after them (`true` in `fences`) or before them (`false`).
    func checkAllProducts(
        m: Int, k: Int, n: Int, threads: Int, fences: [Bool], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var g = SeededGenerator(seed: UInt64(m * 1_000_000 + k * 1000 + n))
        let tolerance = 1e-6 * Float(k) + 1e-6
        let a: Tensor<Float> = randomTensor([m, k], &g), b: Tensor<Float> = randomTensor([k, n], &g)
        let bt: Tensor<Float> = randomTensor([n, k], &g), at: Tensor<Float> = randomTensor([k, m], &g)
        let start: Tensor<Float> = randomTensor([m, n], &g)
        let expected = Tensor<Float>(shape: [m, n])
        for atEnd in fences {
            let fencedA = FencedFloats(a, atEnd: atEnd), fencedB = FencedFloats(b, atEnd: atEnd)
            let fencedBT = FencedFloats(bt, atEnd: atEnd), fencedAT = FencedFloats(at, atEnd: atEnd)
            let c = FencedFloats(start, atEnd: atEnd)
            let size = "(m,k,n) = (\(m),\(k),\(n)), \(threads) threads"

            for accumulate in [false, true] {
                expected.assign(start)
                c.assign(start)
                Kernels.matmul(
                    fencedA.pointer, fencedB.pointer, into: c.pointer, m: m, k: k, n: n, accumulate: accumulate,
                    threads: threads)
                ReferenceKernels.matmul(
                    a.pointer, b.pointer, into: expected.pointer, m: m, k: k, n: n, accumulate: accumulate)
                expectClose(c.tensor, expected, tolerance: tolerance, "matmul \(size), accumulate \(accumulate)", sourceLocation: sourceLocation)
            }

            c.assign(start)
            Kernels.matmulTransposedB(fencedA.pointer, fencedBT.pointer, into: c.pointer, m: m, k: k, n: n, threads: threads)
            ReferenceKernels.matmulTransposedB(a.pointer, bt.pointer, into: expected.pointer, m: m, k: k, n: n)
            expectClose(c.tensor, expected, tolerance: tolerance, "matmulTransposedB \(size)", sourceLocation: sourceLocation)

            c.assign(start)
            expected.assign(start)
            Kernels.matmulTransposedA(fencedAT.pointer, fencedB.pointer, into: c.pointer, m: m, k: k, n: n, threads: threads)
            ReferenceKernels.matmulTransposedA(at.pointer, b.pointer, into: expected.pointer, m: m, k: k, n: n)
            expectClose(c.tensor, expected, tolerance: tolerance, "matmulTransposedA \(size)", sourceLocation: sourceLocation)
        }
    }
}

/// A copy of a tensor's elements flush against an inaccessible page: the one after them (`atEnd`)
/// or the one before them. Reading or writing one element outside crashes.
final class FencedFloats {
    let pointer: UnsafeMutablePointer<Float>
    let shape: [Int]
    let count: Int
    private let mapping: UnsafeMutableRawPointer
    private let mappingSize: Int

    init(_ tensor: Tensor<Float>, atEnd: Bool) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = tensor.count * MemoryLayout<Float>.stride
        let dataSize = (bytes + page - 1) / page * page
        mappingSize = dataSize + 2 * page
        guard let mapping = mmap(nil, mappingSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapping != MAP_FAILED
        else { fatalError("mmap failed") }
        self.mapping = mapping
        mprotect(mapping, page, PROT_NONE)
        mprotect(mapping + page + dataSize, page, PROT_NONE)
        let start = atEnd ? mapping + page + dataSize - bytes : mapping + page
        shape = tensor.shape
        count = tensor.count
        pointer = start.bindMemory(to: Float.self, capacity: count)
        pointer.update(from: tensor.pointer, count: count)
    }

    deinit { munmap(mapping, mappingSize) }

    /// Overwrites the elements with those of `tensor`.
    func assign(_ tensor: Tensor<Float>) { pointer.update(from: tensor.pointer, count: count) }

    /// A tensor holding a copy of the elements.
    var tensor: Tensor<Float> {
        Tensor(shape: shape, values: Array(UnsafeBufferPointer(start: pointer, count: count)))
    }
}
