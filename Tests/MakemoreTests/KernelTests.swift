#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

@testable import Makemore

/// The `Float` kernels of `Kernels` against `ReferenceKernels`, over sizes that meet every tiling
/// path: sizes below, at and past each tile width (8, 16, 24, 32; 16-lane tiles: 16, 32, 48, 64) and
/// row count (4, 8), the shapes of
/// the models, and depths across the packing block (256); and blocks of wider matrices (leading
/// dimensions). Each for every build of the C kernels this CPU runs (`KernelVariant.supported`).
/// Every operand sits against an inaccessible page, so a read or write outside it crashes.
@Suite struct MatmulKernelTests {
    static let awkward = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 27, 30, 31, 33, 64, 100, 200]

    /// Every (m, k, n) of `awkward` up to 20,000 multiply-adds, and each n from 1 to 136.
    static let sizes: [(Int, Int, Int)] = {
        var sizes: [(Int, Int, Int)] = []
        for m in awkward {
            for k in awkward {
                for n in awkward where m * k * n <= 20_000 { sizes.append((m, k, n)) }
            }
        }
        for n in 1...136 { sizes.append((9, 13, n)) }
        return sizes
    }()

    /// Products at the model shapes, around the depth block (256), and with `b` packed (64 rows or
    /// more and 65,536 elements).
    static let largeSizes: [(Int, Int, Int)] = [
        (32, 30, 200), (32, 200, 27), (200, 32, 27), (32, 100, 100), (32, 255, 41), (32, 257, 41),
        (33, 513, 25), (64, 257, 256), (129, 257, 33), (9, 1024, 120), (17, 700, 90),
    ]

    @Test(arguments: sizes)
    func smallProductsMatchTheReference(size: (Int, Int, Int)) {
        checkAllProducts(m: size.0, k: size.1, n: size.2, fences: [true, false])
    }

    @Test(arguments: largeSizes)
    func largeProductsMatchTheReference(size: (Int, Int, Int)) {
        checkAllProducts(m: size.0, k: size.1, n: size.2, fences: [true])
    }

    /// Each product on blocks of wider matrices (`lda`, `ldb`, `ldc` past the block's width): the
    /// block of `c` matches the reference on compact copies, and nothing outside it changes.
    @Test(arguments: [(1, 1, 1), (5, 3, 7), (8, 30, 9), (32, 27, 96), (17, 104, 30), (33, 300, 41)])
    func blocksOfWiderMatricesMatchTheReference(size: (Int, Int, Int)) {
        let (m, k, n) = size
        var g = SeededGenerator(seed: UInt64(m * 10_000 + k * 100 + n))
        let tolerance = 1e-6 * Float(k) + 1e-6
        let pad = 5  // extra columns on each side of every block
        // A block (rows, columns) at column `pad` of a (rows, columns + 2·pad) matrix of random values.
        func wide(_ rows: Int, _ columns: Int) -> (matrix: Tensor<Float>, stride: Int) {
            (randomTensor([rows, columns + 2 * pad], &g), columns + 2 * pad)
        }
        func compact(_ w: (matrix: Tensor<Float>, stride: Int), _ rows: Int, _ columns: Int) -> Tensor<Float> {
            let result = Tensor<Float>(shape: [rows, columns])
            for i in 0..<rows { for j in 0..<columns { result[i, j] = w.matrix[i * w.stride + pad + j] } }
            return result
        }
        func expectOutsideUnchanged(_ c: Tensor<Float>, _ original: Tensor<Float>, _ name: String) {
            let stride = n + 2 * pad
            let changed = (0..<m).contains { i in
                (0..<stride).contains { j in (j < pad || j >= pad + n) && c[i * stride + j] != original[i * stride + j] }
            }
            #expect(!changed, "\(name) (m,k,n) = \(size) wrote outside its block")
        }
        let a = wide(m, k), b = wide(k, n), bt = wide(n, k), at = wide(k, m)
        let a0 = compact(a, m, k), b0 = compact(b, k, n), bt0 = compact(bt, n, k), at0 = compact(at, k, m)
        for variant in KernelVariant.supported {
            for accumulate in [false, true] {
                let c = wide(m, n), original = c.matrix.copy()
                let expected = compact(c, m, n)
                let cBlock = c.matrix.pointer + pad
                variant.matmul(
                    a0.pointer, b.matrix.pointer + pad, into: cBlock, m: m, k: k, n: n, ldb: b.stride, ldc: c.stride,
                    accumulate: accumulate)
                ReferenceKernels.matmul(a0.pointer, b0.pointer, into: expected.pointer, m: m, k: k, n: n, accumulate: accumulate)
                expectClose(compact(c, m, n), expected, tolerance: tolerance, "matmul \(size), accumulate \(accumulate)")
                expectOutsideUnchanged(c.matrix, original, "matmul")

                c.matrix.assign(original)
                let expectedB = accumulate ? compact(c, m, n) : Tensor<Float>(shape: [m, n])
                variant.matmulTransposedB(
                    a0.pointer, bt.matrix.pointer + pad, into: cBlock, m: m, k: k, n: n, ldb: bt.stride, ldc: c.stride,
                    accumulate: accumulate)
                let product = Tensor<Float>(shape: [m, n])
                ReferenceKernels.matmulTransposedB(a0.pointer, bt0.pointer, into: product.pointer, m: m, k: k, n: n)
                expectClose(compact(c, m, n), expectedB + product, tolerance: tolerance, "matmulTransposedB \(size), accumulate \(accumulate)")
                expectOutsideUnchanged(c.matrix, original, "matmulTransposedB")

                c.matrix.assign(original)
                let expectedA = accumulate ? compact(c, m, n) : Tensor<Float>(shape: [m, n])
                variant.matmulTransposedA(
                    at.matrix.pointer + pad, b.matrix.pointer + pad, into: cBlock, m: m, k: k, n: n, lda: at.stride,
                    ldb: b.stride, ldc: c.stride, accumulate: accumulate)
                ReferenceKernels.matmulTransposedA(at0.pointer, b0.pointer, into: expectedA.pointer, m: m, k: k, n: n)
                expectClose(compact(c, m, n), expectedA, tolerance: tolerance, "matmulTransposedA \(size), accumulate \(accumulate)")
                expectOutsideUnchanged(c.matrix, original, "matmulTransposedA")
            }
        }
    }

    /// `Double` keeps the plain loops.
    @Test func doubleProductsMatchTheReference() {
        var g = SeededGenerator(seed: 3)
        let (m, k, n) = (5, 7, 17)
        let a: Tensor<Double> = randomTensor([m, k], &g), b: Tensor<Double> = randomTensor([k, n], &g)
        let c = Tensor<Double>(shape: [m, n]), expected = Tensor<Double>(shape: [m, n])
        Kernels.matmul(a.pointer, b.pointer, into: c.pointer, m: m, k: k, n: n)
        ReferenceKernels.matmul(a.pointer, b.pointer, into: expected.pointer, m: m, k: k, n: n)
        expectClose(c, expected, tolerance: 1e-12, "matmul")
    }

    /// Each product of `(m, k, n)` against its reference, within a tolerance that grows with `k`, with
    /// the operands against the page after them (`true` in `fences`) or before them (`false`).
    func checkAllProducts(
        m: Int, k: Int, n: Int, fences: [Bool], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var g = SeededGenerator(seed: UInt64(m * 1_000_000 + k * 1000 + n))
        let tolerance = 1e-6 * Float(k) + 1e-6
        let a: Tensor<Float> = randomTensor([m, k], &g), b: Tensor<Float> = randomTensor([k, n], &g)
        let bt: Tensor<Float> = randomTensor([n, k], &g), at: Tensor<Float> = randomTensor([k, m], &g)
        let start: Tensor<Float> = randomTensor([m, n], &g)
        let expected = Tensor<Float>(shape: [m, n])
        for variant in KernelVariant.supported {
            for atEnd in fences {
                let fencedA = FencedFloats(a, atEnd: atEnd), fencedB = FencedFloats(b, atEnd: atEnd)
                let fencedBT = FencedFloats(bt, atEnd: atEnd), fencedAT = FencedFloats(at, atEnd: atEnd)
                let c = FencedFloats(start, atEnd: atEnd)
                let size = "(m,k,n) = (\(m),\(k),\(n)), \(variant)"

                for accumulate in [false, true] {
                    expected.assign(start)
                    c.assign(start)
                    variant.matmul(
                        fencedA.pointer, fencedB.pointer, into: c.pointer, m: m, k: k, n: n, ldb: n, ldc: n, accumulate: accumulate)
                    ReferenceKernels.matmul(
                        a.pointer, b.pointer, into: expected.pointer, m: m, k: k, n: n, accumulate: accumulate)
                    expectClose(c.tensor, expected, tolerance: tolerance, "matmul \(size), accumulate \(accumulate)", sourceLocation: sourceLocation)
                }

                c.assign(start)
                variant.matmulTransposedB(
                    fencedA.pointer, fencedBT.pointer, into: c.pointer, m: m, k: k, n: n, ldb: k, ldc: n, accumulate: false)
                ReferenceKernels.matmulTransposedB(a.pointer, bt.pointer, into: expected.pointer, m: m, k: k, n: n)
                expectClose(c.tensor, expected, tolerance: tolerance, "matmulTransposedB \(size)", sourceLocation: sourceLocation)

                for accumulate in [false, true] {
                    c.assign(start)
                    if accumulate { expected.assign(start) } else { expected.fill(0) }
                    variant.matmulTransposedA(
                        fencedAT.pointer, fencedB.pointer, into: c.pointer, m: m, k: k, n: n, lda: m, ldb: n, ldc: n,
                        accumulate: accumulate)
                    ReferenceKernels.matmulTransposedA(at.pointer, b.pointer, into: expected.pointer, m: m, k: k, n: n)
                    expectClose(c.tensor, expected, tolerance: tolerance, "matmulTransposedA \(size), accumulate \(accumulate)", sourceLocation: sourceLocation)
                }
            }
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
