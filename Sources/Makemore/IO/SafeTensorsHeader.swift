// The JSON header of a safetensors file: reading it into metadata and tensor layouts, with every
// check that needs only the header, and writing it back byte for byte as this package always has.
//
// The reader parses with a strict RFC 8259 parser of its own (below), not with Foundation.
// Measured with Swift 6.3.1 on Linux (swift-corelibs-foundation), JSONSerialization and
// JSONDecoder both
//   - accept trailing commas ({"a":1,} and [1,]), which RFC 8259 and the Python package's
//     serde_json reject, and a leading byte-order mark;
//   - keep the last of two equal keys (also when spelled "a" and "\u0061"), at every level,
//     silently, where a tensor name or a metadata key listed twice must be an error;
//   - return objects as dictionaries, losing the header order, which orders zero-length tensors
//     that share an offset (the names of a file read back must be the names written, in order);
//   - report a syntax error as "Invalid value around character 6." or "Unexpected end of file
//     during JSON parse." where the tests pin messages that say what was expected ("':' was
//     expected", "an object key", "after the JSON value", "'true'").
// Numbers alone could be handled: JSONSerialization's NSNumber converts 8.0, 1e3 and true to the
// Ints 8, 1000 and 1, but its objCType ('d', 'c') tells them apart, and 2^63 ('Q') and 1e23
// (NSDecimalNumber) fail `as? Int`; JSONDecoder reads 8.0 and 1e3 as Ints with no way to tell.
// Recovering the order, the duplicate keys and the trailing commas needs a scan that follows
// strings, commas and brackets at every depth, and the messages need the grammar itself: that
// scan is this parser, so Foundation would add a second parser rather than replace this one.

extension SafeTensors {
    /// The header of a safetensors file: the metadata, and where each tensor lies in the data section.
    ///
    /// The reader builds one with `init(parsing:)`, which checks everything the header alone can
    /// show; `SafeTensors.init(bytes:)` then checks the layouts against the data section. The
    /// writer builds one from its entries and writes it with `encoded()`.
    struct Header {
        /// One tensor as the header lists it: its bytes are `begin..<end` of the data section.
        struct TensorLayout {
            var name: String
            var dtype: SafeTensorsDType
            var shape: [Int]
            var begin: Int
            var end: Int
        }

        var metadata: [String: String]
        /// The tensors in header order.
        var tensors: [TensorLayout]

        init(metadata: [String: String], tensors: [TensorLayout]) {
            self.metadata = metadata
            self.tensors = tensors
        }

        // MARK: Writing

        /// The header bytes: `{`, the metadata first when there is any (keys sorted), then the
        /// tensors in order, each as `"name":{"dtype":…,"shape":[…],"data_offsets":[begin,end]}`,
        /// no spaces, then `}` padded with spaces so that the data, which follows the 8-byte
        /// length and the header, starts at a multiple of 8 bytes. Checkpoints are compared byte
        /// for byte, so this layout is fixed (SafeTensorsTests pins it).
        func encoded() -> [UInt8] {
            var header: [UInt8] = Array("{".utf8)
            var separator: [UInt8] = []
            if !metadata.isEmpty {
                Self.appendJSONString(SafeTensors.metadataKey, to: &header)
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
            for tensor in tensors {
                header.append(contentsOf: separator)
                separator = Array(",".utf8)
                Self.appendJSONString(tensor.name, to: &header)
                let shape = tensor.shape.map(String.init).joined(separator: ",")
                header.append(contentsOf: Array(
                    ":{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(tensor.begin),\(tensor.end)]}".utf8))
            }
            header.append(UInt8(ascii: "}"))
            while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
            return header
        }

        /// Appends `text` as a JSON string literal: quotes, backslashes and control characters escaped,
        /// everything else as its UTF-8 bytes.
        private static func appendJSONString(_ text: String, to output: inout [UInt8]) {
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

        // MARK: Reading

        /// Parses and checks the header bytes of a file (the bytes after its 8-byte length).
        ///
        /// Throws a one-line `MakemoreError` starting "safetensors: " for bytes that are not UTF-8,
        /// not JSON or not an object; for a name or a metadata key listed twice; for metadata that
        /// is not an object of strings; and for a tensor entry that fails `parseLayout`'s checks.
        init(parsing bytes: [UInt8]) throws {
            guard String(validating: bytes, as: UTF8.self) != nil else {
                throw MakemoreError("safetensors: header (\(bytes.count) bytes) is not valid UTF-8")
            }
            var parser = JSONParser(bytes: bytes)
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

            var metadata: [String: String] = [:]
            var seenNames: Set<String> = []
            var tensors: [TensorLayout] = []
            for field in fields {
                guard seenNames.insert(field.key).inserted else {
                    throw MakemoreError(field.key == SafeTensors.metadataKey
                        ? "safetensors: header has more than one '\(SafeTensors.metadataKey)' entry"
                        : "safetensors: header lists tensor \(SafeTensors.quoted(field.key)) more than once")
                }
                if field.key == SafeTensors.metadataKey {
                    metadata = try Self.parseMetadata(field.value)
                } else {
                    tensors.append(try Self.parseLayout(name: field.key, value: field.value))
                }
            }
            self.init(metadata: metadata, tensors: tensors)
        }

        /// The `__metadata__` entry: an object whose values are all strings, each key once.
        private static func parseMetadata(_ value: JSONValue) throws -> [String: String] {
            switch value {
            case .null:
                return [:]  // The Python package treats a null metadata entry as absent.
            case .object(let fields):
                var metadata: [String: String] = [:]
                for field in fields {
                    guard case .string(let text) = field.value else {
                        throw MakemoreError(
                            "safetensors: '\(SafeTensors.metadataKey)' must map strings to strings, but key \(SafeTensors.quoted(field.key)) has \(field.value.kind) value \(field.value.rendered)")
                    }
                    guard metadata.updateValue(text, forKey: field.key) == nil else {
                        throw MakemoreError("safetensors: '\(SafeTensors.metadataKey)' lists key \(SafeTensors.quoted(field.key)) more than once")
                    }
                }
                return metadata
            default:
                throw MakemoreError(
                    "safetensors: '\(SafeTensors.metadataKey)' must be a JSON object of string keys and string values, but it is \(value.kind)")
            }
        }

        /// One tensor's entry, checked on its own: the three fields present once each, a known dtype,
        /// a shape of non-negative integers, integer offsets, and a span that holds exactly the shape's
        /// elements. Whether the span lies inside the data section is the caller's check.
        private static func parseLayout(name: String, value: JSONValue) throws -> TensorLayout {
            let tensor = "tensor \(SafeTensors.quoted(name))"
            guard case .object(let fieldList) = value else {
                throw MakemoreError(
                    "safetensors: \(tensor) must be a JSON object with dtype, shape and data_offsets, but it is \(value.kind)")
            }
            var fields: [String: JSONValue] = [:]
            for field in fieldList {
                guard fields.updateValue(field.value, forKey: field.key) == nil else {
                    throw MakemoreError("safetensors: \(tensor) lists \"\(SafeTensors.oneLine(field.key))\" more than once")
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
                    "safetensors: \(tensor) has unknown or unsupported dtype \(SafeTensors.quoted(dtypeName)) (supported: \(supported))")
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
            guard let count = SafeTensors.elementCount(shape) else {
                throw MakemoreError("safetensors: \(tensor) has shape \(shapeText), whose element count is too large to address")
            }
            let (byteLength, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
            guard !overflow, byteLength == span else {
                let bytesText = overflow ? "too many bytes" : "\(byteLength) bytes"
                throw MakemoreError(
                    "safetensors: \(tensor) has shape \(shapeText) (\(count) elements of \(dtype.rawValue) = \(bytesText)) but its data_offsets span \(span) bytes")
            }
            return TensorLayout(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
        }
    }
}

// MARK: - JSON

extension SafeTensors.Header {
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
                return Self.renderList(fields.map { field in { "\(SafeTensors.quoted(field.key)): \(field.value.rendered)" } }, "{", "}")
            case .array(let items):
                return Self.renderList(items.map { item in { item.rendered } }, "[", "]")
            case .string(let text): return SafeTensors.quoted(text)
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
