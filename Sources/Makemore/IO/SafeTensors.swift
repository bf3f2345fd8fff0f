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

/// The element types this reader and writer understand, spelled as in the safetensors header.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case i32 = "I32"
    case u8 = "U8"

    /// The size of one element in bytes.
    public var byteCount: Int {
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
public struct SafeTensors: Sendable {
    /// One tensor: its element type, its shape, and its values as little-endian bytes.
    public struct Entry: Sendable, Equatable {
        public var dtype: SafeTensorsDType
        public var shape: [Int]
        public var bytes: [UInt8]
    }

    /// The tensor names: in insertion order for a set built with `add`, in data-offset order
    /// for a set that was read (which is the same order for files this type wrote).
    public private(set) var names: [String]
    public private(set) var entries: [String: Entry]
    /// Free-form string metadata, stored in the header's `__metadata__` entry.
    public var metadata: [String: String]

    /// The header key that holds the metadata, and so cannot be a tensor name.
    private static let metadataKey = "__metadata__"
    /// The largest header the reader accepts, the same limit as the Python package.
    private static let maximumHeaderLength = 100_000_000

    public init(metadata: [String: String] = [:]) {
        self.names = []
        self.entries = [:]
        self.metadata = metadata
    }

    // MARK: Adding tensors

    /// Adds an F32 tensor; `floats.count` must equal the product of `shape`.
    public mutating func add(_ name: String, floats: [Float], shape: [Int]) throws {
        try insert(name, dtype: .f32, shape: shape, count: floats.count,
                   bytes: Self.littleEndianBytes(floats.map(\.bitPattern)))
    }

    /// Adds an F64 tensor; `doubles.count` must equal the product of `shape`.
    public mutating func add(_ name: String, doubles: [Double], shape: [Int]) throws {
        try insert(name, dtype: .f64, shape: shape, count: doubles.count,
                   bytes: Self.littleEndianBytes(doubles.map(\.bitPattern)))
    }

    /// Adds an I64 tensor; `int64s.count` must equal the product of `shape`.
    public mutating func add(_ name: String, int64s: [Int64], shape: [Int]) throws {
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
    public func floats(_ name: String) throws -> (shape: [Int], values: [Float]) {
        let entry = try entry(name, dtype: .f32)
        return (entry.shape, Self.decodeLittleEndian(entry.bytes, as: UInt32.self).map(Float.init(bitPattern:)))
    }

    /// The shape and values of the F64 tensor `name`.
    public func doubles(_ name: String) throws -> (shape: [Int], values: [Double]) {
        let entry = try entry(name, dtype: .f64)
        return (entry.shape, Self.decodeLittleEndian(entry.bytes, as: UInt64.self).map(Double.init(bitPattern:)))
    }

    /// The shape and values of the I64 tensor `name`.
    public func int64s(_ name: String) throws -> (shape: [Int], values: [Int64]) {
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

    /// The whole file: length, header (tensors in insertion order with contiguous offsets,
    /// metadata first when there is any, padded with spaces so the data starts at a multiple
    /// of 8 bytes), then the data.
    public func serialized() -> [UInt8] {
        var header: [UInt8] = Array("{".utf8)
        var separator: [UInt8] = []
        if !metadata.isEmpty {
            Self.appendJSONString(Self.metadataKey, to: &header)
            header.append(contentsOf: Array(":{".utf8))
            for (index, key) in metadata.keys.sorted().enumerated() {
                if index > 0 { header.append(UInt8(ascii: ",")) }
                Self.appendJSONString(key, to: &header)
                header.append(UInt8(ascii: ":"))
                Self.appendJSONString(metadata[key] ?? "", to: &header)
            }
            header.append(UInt8(ascii: "}"))
            separator = Array(",".utf8)
        }
        var offset = 0
        var dataLength = 0
        for name in names { dataLength += entries[name]?.bytes.count ?? 0 }
        for name in names {
            guard let entry = entries[name] else { continue }
            header.append(contentsOf: separator)
            separator = Array(",".utf8)
            Self.appendJSONString(name, to: &header)
            let shape = entry.shape.map(String.init).joined(separator: ",")
            let end = offset + entry.bytes.count
            header.append(contentsOf: Array(
                ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}".utf8))
            offset = end
        }
        header.append(UInt8(ascii: "}"))
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        var file: [UInt8] = []
        file.reserveCapacity(8 + header.count + dataLength)
        file.append(contentsOf: Self.littleEndianBytes([UInt64(header.count)]))
        file.append(contentsOf: header)
        for name in names { file.append(contentsOf: entries[name]?.bytes ?? []) }
        return file
    }

    /// Writes `serialized()` to `url` atomically (see `writeAtomically`).
    public func write(to url: URL) throws {
        try writeAtomically(serialized(), to: url)
    }

    // MARK: Reading

    /// Reads a safetensors file, throwing a `MakemoreError` that names the path when the file
    /// cannot be read or is malformed.
    public init(contentsOf url: URL) throws {
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
    public init(bytes: [UInt8]) throws {
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
        let headerBytes = Array(bytes[8..<dataStart])
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw MakemoreError("safetensors: header (\(headerLength) bytes) is not valid UTF-8")
        }
        var parser = JSONParser(bytes: headerBytes)
        let header: JSONValue
        do {
            header = try parser.parseDocument()
        } catch let error as JSONParser.Failure {
            throw MakemoreError("safetensors: header is not valid JSON: \(error.reason) at byte \(error.position) of the header")
        }
        guard case .object(let fields) = header else {
            throw MakemoreError(
                "safetensors: header must be a JSON object mapping tensor names to entries, but it is \(header.kind)")
        }

        let dataLength = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var seenNames: Set<String> = []
        var layouts: [TensorLayout] = []
        for (position, field) in fields.enumerated() {
            guard seenNames.insert(field.key).inserted else {
                throw MakemoreError(field.key == Self.metadataKey
                    ? "safetensors: header has more than one '\(Self.metadataKey)' entry"
                    : "safetensors: header lists tensor \(Self.quoted(field.key)) more than once")
            }
            if field.key == Self.metadataKey {
                metadata = try Self.parseMetadata(field.value)
            } else {
                layouts.append(try Self.parseLayout(
                    name: field.key, value: field.value, position: position, dataLength: dataLength))
            }
        }

        // The tensors must tile the data section: sorted by offset, each starts where the
        // previous one ends, and the last ends at the end of the file.
        layouts.sort { ($0.begin, $0.end, $0.position) < ($1.begin, $1.end, $1.position) }
        var covered = 0
        var previous: TensorLayout?
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

        self.metadata = metadata
        self.names = layouts.map(\.name)
        var entries: [String: Entry] = [:]
        for layout in layouts {
            entries[layout.name] = Entry(
                dtype: layout.dtype, shape: layout.shape,
                bytes: Array(bytes[(dataStart + layout.begin)..<(dataStart + layout.end)]))
        }
        self.entries = entries
    }

    /// Where one tensor lies in the data section, as read from the header.
    private struct TensorLayout {
        var name: String
        var dtype: SafeTensorsDType
        var shape: [Int]
        var begin: Int
        var end: Int
        /// The entry's position in the header, to keep header order among equal offsets.
        var position: Int
    }

    private static func parseMetadata(_ value: JSONValue) throws -> [String: String] {
        switch value {
        case .null:
            return [:]  // The Python package treats a null metadata entry as absent.
        case .object(let fields):
            var metadata: [String: String] = [:]
            for field in fields {
                guard case .string(let text) = field.value else {
                    throw MakemoreError(
                        "safetensors: '\(metadataKey)' must map strings to strings, but key \(quoted(field.key)) has \(field.value.kind) value \(field.value.rendered)")
                }
                guard metadata.updateValue(text, forKey: field.key) == nil else {
                    throw MakemoreError("safetensors: '\(metadataKey)' lists key \(quoted(field.key)) more than once")
                }
            }
            return metadata
        default:
            throw MakemoreError(
                "safetensors: '\(metadataKey)' must be a JSON object of string keys and string values, but it is \(value.kind)")
        }
    }

    private static func parseLayout(
        name: String, value: JSONValue, position: Int, dataLength: Int
    ) throws -> TensorLayout {
        let tensor = "tensor \(quoted(name))"
        guard case .object(let fieldList) = value else {
            throw MakemoreError(
                "safetensors: \(tensor) must be a JSON object with dtype, shape and data_offsets, but it is \(value.kind)")
        }
        var fields: [String: JSONValue] = [:]
        for field in fieldList {
            guard fields.updateValue(field.value, forKey: field.key) == nil else {
                throw MakemoreError("safetensors: \(tensor) lists \"\(oneLine(field.key))\" more than once")
            }
        }
        for key in ["dtype", "shape", "data_offsets"] where fields[key] == nil {
            throw MakemoreError("safetensors: \(tensor) lacks \"\(key)\" (each tensor needs dtype, shape and data_offsets)")
        }

        // dtype
        guard case .string(let dtypeName)? = fields["dtype"] else {
            throw MakemoreError(
                "safetensors: \(tensor) has dtype \(fields["dtype"]?.rendered ?? "") but dtype must be a string such as \"F32\"")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            let supported = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw MakemoreError(
                "safetensors: \(tensor) has unknown or unsupported dtype \(quoted(dtypeName)) (supported: \(supported))")
        }

        // shape
        guard case .array(let dimensionValues)? = fields["shape"] else {
            throw MakemoreError(
                "safetensors: \(tensor) has shape \(fields["shape"]?.rendered ?? "") but shape must be an array of non-negative integers")
        }
        var shape: [Int] = []
        for dimension in dimensionValues {
            switch dimension.nonNegativeInteger {
            case .value(let size): shape.append(size)
            case .negative:
                throw MakemoreError(
                    "safetensors: \(tensor) has shape \(fields["shape"]?.rendered ?? "") with negative dimension \(dimension.rendered); dimensions must be non-negative integers")
            case .notInteger, .tooLarge:
                throw MakemoreError(
                    "safetensors: \(tensor) has shape \(fields["shape"]?.rendered ?? "") with dimension \(dimension.rendered), which is not a non-negative integer of a usable size")
            }
        }

        // data_offsets
        let offsetsText = fields["data_offsets"]?.rendered ?? ""
        let offsetsError = MakemoreError(
            "safetensors: \(tensor) has data_offsets \(offsetsText) but data_offsets must be two non-negative integers [begin, end] with begin <= end")
        guard case .array(let offsetValues)? = fields["data_offsets"], offsetValues.count == 2,
              case .value(let begin) = offsetValues[0].nonNegativeInteger,
              case .value(let end) = offsetValues[1].nonNegativeInteger,
              begin <= end
        else { throw offsetsError }

        // The span must hold exactly the elements of the shape.
        let span = end - begin
        let shapeText = "[\(shape.map(String.init).joined(separator: ", "))]"
        guard let count = elementCount(shape) else {
            throw MakemoreError("safetensors: \(tensor) has shape \(shapeText), whose element count is too large to address")
        }
        let (byteLength, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow, byteLength == span else {
            let bytesText = overflow ? "too many bytes" : "\(byteLength) bytes"
            throw MakemoreError(
                "safetensors: \(tensor) has shape \(shapeText) (\(count) elements of \(dtype.rawValue) = \(bytesText)) but its data_offsets span \(span) bytes")
        }
        guard end <= dataLength else {
            throw MakemoreError(
                "safetensors: \(tensor) has data_offsets [\(begin), \(end)] but the data section has only \(dataLength) bytes; the file is truncated or the offsets are wrong")
        }
        return TensorLayout(name: name, dtype: dtype, shape: shape, begin: begin, end: end, position: position)
    }
}

// MARK: - Helpers

/// Byte coding, message formatting and JSON, nested here so that their names cannot clash
/// with other declarations in the module.
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
    fileprivate static func elementCount(_ shape: [Int]) -> Int? {
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
    fileprivate static func quoted(_ text: String) -> String {
        let scalars = text.unicodeScalars
        let shortened = scalars.count > 80 ? String(String.UnicodeScalarView(scalars.prefix(80))) + "…" : text
        return "'\(oneLine(shortened))'"
    }

    /// `text` with control characters escaped, so that it fits on one line.
    fileprivate static func oneLine(_ text: String) -> String {
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

    // MARK: - JSON

    /// Appends `text` as a JSON string literal: quotes, backslashes and control characters escaped,
    /// everything else as its UTF-8 bytes.
    fileprivate static func appendJSONString(_ text: String, to output: inout [UInt8]) {
        let hexDigits = Array("0123456789abcdef".utf8)
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: Array("\\\"".utf8))
            case UInt8(ascii: "\\"): output.append(contentsOf: Array("\\\\".utf8))
            case UInt8(ascii: "\n"): output.append(contentsOf: Array("\\n".utf8))
            case UInt8(ascii: "\r"): output.append(contentsOf: Array("\\r".utf8))
            case UInt8(ascii: "\t"): output.append(contentsOf: Array("\\t".utf8))
            case 0x08: output.append(contentsOf: Array("\\b".utf8))
            case 0x0C: output.append(contentsOf: Array("\\f".utf8))
            case 0..<0x20:
                output.append(contentsOf: Array("\\u00".utf8))
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// A parsed JSON value. Objects keep their keys in order (duplicates included) so the reader can
    /// keep header order and reject repeated names; numbers keep their literal text so the reader can
    /// tell integers from other numbers exactly.
    fileprivate indirect enum JSONValue {
        case object([(key: String, value: JSONValue)])
        case array([JSONValue])
        case string(String)
        case number(literal: String, isInteger: Bool)
        case bool(Bool)
        case null

        /// What kind of value this is, for messages: "an object", "a string", ...
        var kind: String {
            switch self {
            case .object: "an object"
            case .array: "an array"
            case .string: "a string"
            case .number: "a number"
            case .bool: "a boolean"
            case .null: "null"
            }
        }

        /// A compact, one-line rendering for messages; long arrays and objects are cut short
        /// (with "…") without rendering the rest, so hostile headers cannot make messages huge.
        var rendered: String {
            switch self {
            case .object(let fields):
                return Self.renderList(fields.map { field in { "\(quoted(field.key)): \(field.value.rendered)" } }, "{", "}")
            case .array(let items):
                return Self.renderList(items.map { item in { item.rendered } }, "[", "]")
            case .string(let text): return quoted(text)
            case .number(let literal, _): return literal.utf8.count > 40 ? String(literal.prefix(40)) + "…" : literal
            case .bool(let value): return value ? "true" : "false"
            case .null: return "null"
            }
        }

        private static func renderList(_ parts: [() -> String], _ open: String, _ close: String) -> String {
            var text = open
            for (index, part) in parts.enumerated() {
                if text.utf8.count > 100 {
                    text += ", …"
                    break
                }
                text += (index > 0 ? ", " : "") + part()
            }
            return text + close
        }

        enum IntegerReading {
            case value(Int)
            case negative
            case notInteger
            case tooLarge
        }

        /// This value as a non-negative `Int`, or why it is not one.
        var nonNegativeInteger: IntegerReading {
            guard case .number(let literal, let isInteger) = self, isInteger else { return .notInteger }
            if let value = Int(literal) { return value < 0 ? .negative : .value(value) }
            return literal.hasPrefix("-") ? .negative : .tooLarge
        }
    }

    /// A strict RFC 8259 JSON parser over UTF-8 bytes, with a nesting limit so that hostile input
    /// cannot exhaust the stack.
    fileprivate struct JSONParser {
        struct Failure: Error {
            var reason: String
            var position: Int
        }

        let bytes: [UInt8]
        var position = 0
        static let maximumDepth = 64

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func parseDocument() throws -> JSONValue {
            skipWhitespace()
            let value = try parseValue(depth: 0)
            skipWhitespace()
            guard position == bytes.count else { throw failure("unexpected \(describeNext()) after the JSON value") }
            return value
        }

        private func failure(_ reason: String) -> Failure { Failure(reason: reason, position: position) }

        private func describeNext() -> String {
            guard position < bytes.count else { return "end of header" }
            let byte = bytes[position]
            return (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        }

        private mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        private mutating func expect(_ literal: String) throws {
            for byte in literal.utf8 {
                guard position < bytes.count, bytes[position] == byte else {
                    throw failure("unexpected \(describeNext()) while reading '\(literal)'")
                }
                position += 1
            }
        }

        private mutating func parseValue(depth: Int) throws -> JSONValue {
            guard depth < Self.maximumDepth else { throw failure("values nested more than \(Self.maximumDepth) deep") }
            guard position < bytes.count else { throw failure("unexpected end of header where a value was expected") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth)
            case UInt8(ascii: "["): return try parseArray(depth: depth)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw failure("unexpected \(describeNext()) where a value was expected")
            }
        }

        private mutating func parseObject(depth: Int) throws -> JSONValue {
            position += 1  // {
            var fields: [(key: String, value: JSONValue)] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object(fields)
            }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                    throw failure("unexpected \(describeNext()) where an object key (a string) was expected")
                }
                let key = try parseString()
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                    throw failure("unexpected \(describeNext()) where ':' was expected")
                }
                position += 1
                skipWhitespace()
                fields.append((key, try parseValue(depth: depth + 1)))
                skipWhitespace()
                guard position < bytes.count else { throw failure("unexpected end of header inside an object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(fields) }
                throw failure("unexpected \(describeNext()) where ',' or '}' was expected")
            }
        }

        private mutating func parseArray(depth: Int) throws -> JSONValue {
            position += 1  // [
            var items: [JSONValue] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard position < bytes.count else { throw failure("unexpected end of header inside an array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                throw failure("unexpected \(describeNext()) where ',' or ']' was expected")
            }
        }

        /// A string literal; the header was already checked to be valid UTF-8, and a quote or
        /// backslash never falls inside a multi-byte sequence, so every slice decodes cleanly.
        private mutating func parseString() throws -> String {
            position += 1  // opening quote
            var decoded: [UInt8] = []
            while true {
                guard position < bytes.count else { throw failure("unterminated string") }
                let byte = bytes[position]
                switch byte {
                case UInt8(ascii: "\""):
                    position += 1
                    return String(decoding: decoded, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    position += 1
                    guard position < bytes.count else { throw failure("unterminated string") }
                    let escape = bytes[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""): decoded.append(UInt8(ascii: "\""))
                    case UInt8(ascii: "\\"): decoded.append(UInt8(ascii: "\\"))
                    case UInt8(ascii: "/"): decoded.append(UInt8(ascii: "/"))
                    case UInt8(ascii: "b"): decoded.append(0x08)
                    case UInt8(ascii: "f"): decoded.append(0x0C)
                    case UInt8(ascii: "n"): decoded.append(0x0A)
                    case UInt8(ascii: "r"): decoded.append(0x0D)
                    case UInt8(ascii: "t"): decoded.append(0x09)
                    case UInt8(ascii: "u"):
                        var value = try parseHexQuad()
                        if (0xD800...0xDBFF).contains(value) {
                            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                                  bytes[position + 1] == UInt8(ascii: "u")
                            else { throw failure("unpaired surrogate \\u\(String(value, radix: 16)) in string") }
                            position += 2
                            let low = try parseHexQuad()
                            guard (0xDC00...0xDFFF).contains(low) else {
                                throw failure("unpaired surrogate \\u\(String(value, radix: 16)) in string")
                            }
                            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(value) else {
                            throw failure("unpaired surrogate \\u\(String(value, radix: 16)) in string")
                        }
                        decoded.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default:
                        position -= 1
                        throw failure("invalid escape \\\(describeNext()) in string")
                    }
                case 0..<0x20:
                    throw failure("unescaped control character 0x\(String(byte, radix: 16)) in string")
                default:
                    decoded.append(byte)
                    position += 1
                }
            }
        }

        private mutating func parseHexQuad() throws -> UInt32 {
            guard position + 4 <= bytes.count else { throw failure("unterminated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw failure("invalid hex digit \(describeNext()) in \\u escape")
                }
                value = value << 4 | digit
                position += 1
            }
            return value
        }

        /// A number per the JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        private mutating func parseNumber() throws -> JSONValue {
            let start = position
            var isInteger = true
            func isDigit(_ index: Int) -> Bool {
                index < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index])
            }
            if bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard isDigit(position) else { throw failure("unexpected \(describeNext()) in a number") }
            if bytes[position] == UInt8(ascii: "0") {
                position += 1
                if isDigit(position) { throw failure("number with a leading zero") }
            } else {
                while isDigit(position) { position += 1 }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                isInteger = false
                position += 1
                guard isDigit(position) else { throw failure("unexpected \(describeNext()) after a decimal point") }
                while isDigit(position) { position += 1 }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                isInteger = false
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                    position += 1
                }
                guard isDigit(position) else { throw failure("unexpected \(describeNext()) in an exponent") }
                while isDigit(position) { position += 1 }
            }
            return .number(literal: String(decoding: bytes[start..<position], as: UTF8.self), isInteger: isInteger)
        }
    }
}
