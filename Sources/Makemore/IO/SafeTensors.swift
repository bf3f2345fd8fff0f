import Foundation

// The safetensors format (https://github.com/huggingface/safetensors):
//
//     8 bytes    N, the header length, as a little-endian UInt64
//     N bytes    a UTF-8 JSON object: tensor name -> {"dtype", "shape", "data_offsets"},
//                plus an optional "__metadata__" object of string -> string
//     the rest   the data section: each tensor's raw little-endian values, at
//                data_offsets [begin, end) counted from the start of the data section
//
// The reader validates like the Python package does: the tensors must tile the data section
// exactly (sorted by offset, each starting where the previous one ends, the last ending at the
// end of the file), and each tensor's byte span must equal its element count times its dtype size.
//
// This file holds the format: entries, dtypes, the data layout, reading and writing whole files.
// The JSON header, its parser and its checks are in SafeTensorsHeader.swift; reading and atomic
// writing of files in general are in Files.swift.

/// The element types this reader and writer understand, spelled as in the safetensors header.
enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case i32 = "I32"
    case u8 = "U8"

    /// The size of one element in bytes.
    var byteCount: Int {
        switch self {
        case .f32, .i32: 4
        case .f64, .i64: 8
        case .u8: 1
        }
    }
}

/// A set of named tensors with string metadata, as stored in a `.safetensors` file.
///
/// Build one with `add` and write it with `serialized()` or `write(to:)`; read one with
/// `init(bytes:)` or `init(contentsOf:)` and take values out with `floats`, `doubles` or `int64s`.
/// Values are kept as their little-endian bytes, so a read-then-write round trip is bit-exact.
///
/// Names are Swift strings, so two names that are canonically equivalent Unicode (for example a
/// precomposed "é" and "e" followed by a combining accent) count as the same name.
package struct SafeTensors: Sendable {
    /// One tensor: its element type, its shape, and its values as little-endian bytes.
    struct Entry: Sendable, Equatable {
        var dtype: SafeTensorsDType
        var shape: [Int]
        var bytes: [UInt8]
    }

    /// The tensor names: in insertion order for a set built with `add`, in data-offset order
    /// for a set that was read (which is the same order for files this type wrote).
    private(set) var names: [String]
    private(set) var entries: [String: Entry]
    /// Free-form string metadata, stored in the header's `__metadata__` entry.
    var metadata: [String: String]

    /// The header key that holds the metadata, and so cannot be a tensor name.
    static let metadataKey = "__metadata__"
    /// The largest header the reader accepts, the same limit as the Python package.
    private static let maximumHeaderLength = 100_000_000

    init(metadata: [String: String] = [:]) {
        self.names = []
        self.entries = [:]
        self.metadata = metadata
    }

    // MARK: Adding tensors

    /// Adds an F32 tensor; `floats.count` must equal the product of `shape`.
    mutating func add(_ name: String, floats: [Float], shape: [Int]) throws {
        try insert(name, dtype: .f32, shape: shape, count: floats.count,
                   bytes: Self.littleEndianBytes(floats.map(\.bitPattern)))
    }

    /// Adds an F64 tensor; `doubles.count` must equal the product of `shape`.
    mutating func add(_ name: String, doubles: [Double], shape: [Int]) throws {
        try insert(name, dtype: .f64, shape: shape, count: doubles.count,
                   bytes: Self.littleEndianBytes(doubles.map(\.bitPattern)))
    }

    /// Adds an I64 tensor; `int64s.count` must equal the product of `shape`.
    mutating func add(_ name: String, int64s: [Int64], shape: [Int]) throws {
        try insert(name, dtype: .i64, shape: shape, count: int64s.count, bytes: Self.littleEndianBytes(int64s))
    }

    private mutating func insert(
        _ name: String, dtype: SafeTensorsDType, shape: [Int], count: Int, bytes: [UInt8]
    ) throws {
        guard name != Self.metadataKey else {
            throw MakemoreError("safetensors: '\(Self.metadataKey)' is reserved for the metadata and cannot name a tensor")
        }
        guard entries[name] == nil else {
            throw MakemoreError("safetensors: a tensor named \(Self.quoted(name)) was already added; tensor names must be unique")
        }
        if let negative = shape.first(where: { $0 < 0 }) {
            throw MakemoreError("safetensors: tensor \(Self.quoted(name)) has shape \(shape) with negative dimension \(negative)")
        }
        guard let expected = Self.elementCount(shape), expected == count else {
            throw MakemoreError(
                "safetensors: tensor \(Self.quoted(name)) has shape \(shape) (\(Self.elementCount(shape).map(String.init) ?? "too many") elements) but \(count) values were given")
        }
        names.append(name)
        entries[name] = Entry(dtype: dtype, shape: shape, bytes: bytes)
    }

    // MARK: Taking tensors out

    /// The shape and values of the F32 tensor `name`.
    func floats(_ name: String) throws -> (shape: [Int], values: [Float]) {
        let entry = try entry(name, dtype: .f32)
        return (entry.shape, Self.decodeLittleEndian(entry.bytes, as: UInt32.self).map(Float.init(bitPattern:)))
    }

    /// The shape and values of the F64 tensor `name`.
    func doubles(_ name: String) throws -> (shape: [Int], values: [Double]) {
        let entry = try entry(name, dtype: .f64)
        return (entry.shape, Self.decodeLittleEndian(entry.bytes, as: UInt64.self).map(Double.init(bitPattern:)))
    }

    /// The shape and values of the I64 tensor `name`.
    func int64s(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        let entry = try entry(name, dtype: .i64)
        return (entry.shape, Self.decodeLittleEndian(entry.bytes, as: Int64.self))
    }

    private func entry(_ name: String, dtype: SafeTensorsDType) throws -> Entry {
        guard let entry = entries[name] else {
            let known = names.prefix(20).map(Self.quoted).joined(separator: ", ")
            let more = names.count > 20 ? ", …" : ""
            throw MakemoreError(
                "safetensors: no tensor named \(Self.quoted(name)) (tensors present: \(names.isEmpty ? "none" : known + more))")
        }
        guard entry.dtype == dtype else {
            throw MakemoreError(
                "safetensors: tensor \(Self.quoted(name)) has dtype \(entry.dtype.rawValue), not the \(dtype.rawValue) that was asked for")
        }
        return entry
    }

    // MARK: Writing

    /// The whole file: the header length, the header (see `Header.encoded()`: metadata, then
    /// the tensors in insertion order with contiguous offsets, padded so that the data starts at a
    /// multiple of 8 bytes), then the data.
    func serialized() -> [UInt8] {
        var layouts: [Header.TensorLayout] = []
        var offset = 0
        for name in names {
            guard let entry = entries[name] else { continue }
            layouts.append(Header.TensorLayout(
                name: name, dtype: entry.dtype, shape: entry.shape, begin: offset, end: offset + entry.bytes.count))
            offset += entry.bytes.count
        }
        let header = Header(metadata: metadata, tensors: layouts).encoded()

        var file: [UInt8] = []
        file.reserveCapacity(8 + header.count + offset)
        file.append(contentsOf: Self.littleEndianBytes([UInt64(header.count)]))
        file.append(contentsOf: header)
        for name in names { file.append(contentsOf: entries[name]?.bytes ?? []) }
        return file
    }

    /// Writes `serialized()` to `url` atomically (see `writeAtomically`).
    package func write(to url: URL) throws {
        try writeAtomically(serialized(), to: url)
    }

    // MARK: Reading

    /// Reads a safetensors file, throwing a `MakemoreError` that names the path when the file
    /// cannot be read or is malformed.
    init(contentsOf url: URL) throws {
        let data: Data
        switch readFile(url) {
        case .success(let contents):
            data = contents
        case .failure(let problem):
            let reason: String
            switch problem {
            case .missing: reason = "no such file"
            case .directory: reason = "it is a directory"
            case .other(let description): reason = Self.oneLine(description)
            }
            throw MakemoreError("safetensors: cannot read '\(url.path)': \(reason)")
        }
        do {
            self = try SafeTensors(bytes: [UInt8](data))
        } catch let error as MakemoreError {
            throw MakemoreError("\(error.message) (in '\(url.path)')")
        }
    }

    /// Parses and validates a whole safetensors file held in memory.
    ///
    /// Every malformed input throws a `MakemoreError` whose one-line message starts with
    /// "safetensors: " and says what is wrong; nothing here traps, and memory use is proportional
    /// to `bytes.count` (headers over 100 MB, the Python package's limit, are refused unread).
    ///
    /// Stricter than the Python package in one respect: a name listed twice in the header is an
    /// error here, where Python silently keeps the last one.
    package init(bytes: [UInt8]) throws {
        guard bytes.count >= 8 else {
            throw MakemoreError(
                "safetensors: file is \(bytes.count) bytes, shorter than the 8-byte header length that starts every safetensors file")
        }
        var headerLength: UInt64 = 0
        for index in (0..<8).reversed() { headerLength = headerLength << 8 | UInt64(bytes[index]) }
        guard headerLength <= UInt64(Self.maximumHeaderLength) else {
            throw MakemoreError(
                "safetensors: header length \(headerLength) is absurdly large (the limit is \(Self.maximumHeaderLength) bytes); the file is corrupt or not a safetensors file")
        }
        let dataStart = 8 + Int(headerLength)
        guard dataStart <= bytes.count else {
            throw MakemoreError(
                "safetensors: header length \(headerLength) is past the end of the file (only \(bytes.count - 8) bytes follow the length); the file is truncated or not a safetensors file")
        }
        let header = try Header(parsing: Array(bytes[8..<dataStart]))

        // The header's entries each hold their shape; now they must fit the data section and
        // tile it: sorted by offset (header order among equal offsets), each starts where the
        // previous one ends, and the last ends at the end of the file.
        let dataLength = bytes.count - dataStart
        for layout in header.tensors where layout.end > dataLength {
            throw MakemoreError(
                "safetensors: tensor \(Self.quoted(layout.name)) has data_offsets [\(layout.begin), \(layout.end)] but the data section has only \(dataLength) bytes; the file is truncated or the offsets are wrong")
        }
        let layouts = header.tensors.enumerated()
            .sorted { ($0.element.begin, $0.element.end, $0.offset) < ($1.element.begin, $1.element.end, $1.offset) }
            .map(\.element)
        var covered = 0
        var previous: Header.TensorLayout?
        for layout in layouts {
            if layout.begin > covered {
                let after = previous.map { " (after tensor \(Self.quoted($0.name)))" } ?? ""
                throw MakemoreError(
                    "safetensors: bytes \(covered)..<\(layout.begin) of the data section belong to no tensor\(after); tensor \(Self.quoted(layout.name)) starts at \(layout.begin) but tensors must be stored contiguously")
            }
            if layout.begin < covered, let previous {
                throw MakemoreError(
                    "safetensors: tensor \(Self.quoted(layout.name)) with data_offsets [\(layout.begin), \(layout.end)] overlaps tensor \(Self.quoted(previous.name)) with data_offsets [\(previous.begin), \(previous.end)]; tensors must not share bytes")
            }
            covered = layout.end
            previous = layout
        }
        guard covered == dataLength else {
            throw MakemoreError(
                "safetensors: the data section has \(dataLength) bytes but the tensors cover only \(covered); the last \(dataLength - covered) bytes belong to no tensor")
        }

        self.metadata = header.metadata
        self.names = layouts.map(\.name)
        var entries: [String: Entry] = [:]
        for layout in layouts {
            entries[layout.name] = Entry(
                dtype: layout.dtype, shape: layout.shape,
                bytes: Array(bytes[(dataStart + layout.begin)..<(dataStart + layout.end)]))
        }
        self.entries = entries
    }
}

// MARK: - Helpers

/// Byte coding and message formatting, nested here so that their names cannot clash with other
/// declarations in the module. The JSON header is in SafeTensorsHeader.swift.
extension SafeTensors {
    // MARK: - Little-endian bytes

    /// The little-endian bytes of `values`, whatever the host's byte order.
    fileprivate static func littleEndianBytes<Value: FixedWidthInteger>(_ values: [Value]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * MemoryLayout<Value>.size)
        for value in values {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// The values whose little-endian bytes are `bytes`; `bytes.count` is a multiple of the value size
    /// for every entry that passed validation, and any remainder would be ignored.
    fileprivate static func decodeLittleEndian<Value: FixedWidthInteger>(
        _ bytes: [UInt8], as type: Value.Type
    ) -> [Value] {
        let size = MemoryLayout<Value>.size
        return bytes.withUnsafeBytes { buffer in
            (0..<(buffer.count / size)).map { index in
                Value(littleEndian: buffer.loadUnaligned(fromByteOffset: index * size, as: Value.self))
            }
        }
    }

    /// The product of `shape`, or nil when it does not fit in an `Int`. A zero dimension makes it 0.
    static func elementCount(_ shape: [Int]) -> Int? {
        if shape.contains(0) { return 0 }
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            count = product
        }
        return count
    }

    // MARK: - Messages

    /// `text` in single quotes with control characters escaped and long text shortened, for one-line messages.
    static func quoted(_ text: String) -> String {
        let scalars = text.unicodeScalars
        let shortened = scalars.count > 80 ? String(String.UnicodeScalarView(scalars.prefix(80))) + "…" : text
        return "'\(oneLine(shortened))'"
    }

    /// `text` with control characters escaped, so that it fits on one line.
    static func oneLine(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}":
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
