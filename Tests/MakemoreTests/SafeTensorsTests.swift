import Foundation
import Testing

@testable import Makemore

// `temporaryDirectory()` comes from TestSupport.swift.

/// A safetensors file from a header written by hand and raw data bytes, with the header
/// length field computed (no padding is added, so odd layouts can be tested).
private func safeTensorsFile(header: String, data: [UInt8] = []) -> [UInt8] {
    safeTensorsFile(headerBytes: Array(header.utf8), data: data)
}

private func safeTensorsFile(headerBytes: [UInt8], data: [UInt8] = []) -> [UInt8] {
    var length = UInt64(headerBytes.count)
    var bytes: [UInt8] = []
    for _ in 0..<8 {
        bytes.append(UInt8(length & 0xFF))
        length >>= 8
    }
    return bytes + headerBytes + data
}

/// The message of the error that reading `bytes` throws, or a description of what happened instead.
private func safeTensorsReadError(_ bytes: [UInt8]) -> String {
    do {
        let tensors = try SafeTensors(bytes: bytes)
        return "no error (read \(tensors.names.count) tensors)"
    } catch let error as MakemoreError {
        return error.message
    } catch {
        return "unexpected error type: \(error)"
    }
}

/// The message of the `MakemoreError` that `body` throws, or a description of what happened instead.
private func safeTensorsErrorMessage(_ body: () throws -> Void) -> String {
    do {
        try body()
        return "no error"
    } catch let error as MakemoreError {
        return error.message
    } catch {
        return "unexpected error type: \(error)"
    }
}

/// Checks that reading `bytes` fails with a one-line "safetensors: " message containing every fragment.
private func expectReadError(
    _ bytes: [UInt8], mentions fragments: [String], sourceLocation: SourceLocation = #_sourceLocation
) {
    let message = safeTensorsReadError(bytes)
    #expect(message.hasPrefix("safetensors: "), "\(message)", sourceLocation: sourceLocation)
    #expect(!message.contains("\n"), "\(message)", sourceLocation: sourceLocation)
    for fragment in fragments {
        #expect(message.contains(fragment), "'\(fragment)' not in: \(message)", sourceLocation: sourceLocation)
    }
}

private let twoFloatsEntry = #"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

@Suite struct SafeTensorsRoundTripTests {
    @Test func roundTripKeepsNamesOrderShapesDtypesValuesAndMetadata() throws {
        let metadata = [
            "format": "pt",
            "quote\"back\\slash": "line\nbreak\ttab\r\u{0}\u{1F}\u{7F} end",
            "ünïcødé 名前": "😀 e\u{301} \u{2028}",
        ]
        var tensors = SafeTensors(metadata: metadata)
        let floats: [Float] = [1.5, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let doubles: [Double] = [-0.0, .pi, -3 * .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let int64s: [Int64] = [.min, -1, 0, 1, .max, 0x0102_0304_0506_0708]
        try tensors.add("z.weight", floats: floats, shape: [2, 3])
        try tensors.add("a \"quoted\" \\ name\n", doubles: doubles, shape: [4])
        try tensors.add("名前", int64s: int64s, shape: [3, 1, 2])
        try tensors.add("scalar", floats: [42], shape: [])

        let read = try SafeTensors(bytes: tensors.serialized())
        #expect(read.names == ["z.weight", "a \"quoted\" \\ name\n", "名前", "scalar"])
        #expect(read.metadata == metadata)
        #expect(read.entries == tensors.entries)

        let readFloats = try read.floats("z.weight")
        #expect(readFloats.shape == [2, 3])
        #expect(readFloats.values.map(\.bitPattern) == floats.map(\.bitPattern))
        #expect(readFloats.values[1].sign == .minus)
        let readDoubles = try read.doubles("a \"quoted\" \\ name\n")
        #expect(readDoubles.shape == [4])
        #expect(readDoubles.values.map(\.bitPattern) == doubles.map(\.bitPattern))
        let readInts = try read.int64s("名前")
        #expect(readInts.shape == [3, 1, 2])
        #expect(readInts.values == int64s)
        let readScalar = try read.floats("scalar")
        #expect(readScalar.shape == [])
        #expect(readScalar.values == [42])
        #expect(read.entries["scalar"]?.dtype == .f32)
        #expect(read.entries["名前"]?.dtype == .i64)
        #expect(read.entries["a \"quoted\" \\ name\n"]?.dtype == .f64)
    }

    @Test func emptyMetadataIsOmittedAndReadsBackEmpty() throws {
        var tensors = SafeTensors()
        try tensors.add("w", floats: [1, 2], shape: [2])
        let bytes = tensors.serialized()
        #expect(!String(decoding: bytes, as: UTF8.self).contains("__metadata__"))
        let read = try SafeTensors(bytes: bytes)
        #expect(read.metadata.isEmpty)
        #expect(read.names == ["w"])
    }

    @Test func emptySetRoundTrips() throws {
        let read = try SafeTensors(bytes: SafeTensors(metadata: ["k": "v"]).serialized())
        #expect(read.names.isEmpty)
        #expect(read.entries.isEmpty)
        #expect(read.metadata == ["k": "v"])
    }

    @Test func zeroElementTensorsRoundTripInOrder() throws {
        var tensors = SafeTensors()
        try tensors.add("empty b", floats: [], shape: [0, 5])
        try tensors.add("empty a", int64s: [], shape: [3, 0])
        try tensors.add("after", doubles: [7], shape: [1])
        try tensors.add("empty c", doubles: [], shape: [0])
        let read = try SafeTensors(bytes: tensors.serialized())
        #expect(read.names == ["empty b", "empty a", "after", "empty c"])
        #expect(try read.floats("empty b").shape == [0, 5])
        #expect(try read.floats("empty b").values.isEmpty)
        #expect(try read.int64s("empty a").shape == [3, 0])
        #expect(try read.doubles("after").values == [7])
        #expect(try read.doubles("empty c").shape == [0])
    }

    @Test func layoutIsLittleEndianAndDataIsAlignedToEightBytes() throws {
        var tensors = SafeTensors()
        try tensors.add("x", floats: [1.0], shape: [1])
        try tensors.add("n", int64s: [1], shape: [1])
        let bytes = tensors.serialized()
        let headerLength = bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(headerLength % 8 == 0)
        try #require(headerLength >= 0 && headerLength <= bytes.count - 8)
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        let json = #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"n":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}}"#
        #expect(header.hasPrefix(json))
        let padding = header.dropFirst(json.count)
        #expect(padding.count < 8 && padding.allSatisfy { $0 == " " }, "padding '\(padding)'")
        // 1.0f is 0x3F800000, stored least significant byte first; then Int64 1.
        #expect(Array(bytes[(8 + headerLength)...]) == [0x00, 0x00, 0x80, 0x3F, 1, 0, 0, 0, 0, 0, 0, 0])
    }

    /// The exact bytes of a small file, written by the serializer as it stood before the JSON
    /// header moved to its own file: checkpoints are compared byte for byte, so the header's key
    /// order (metadata first, its keys sorted; tensors in insertion order; fields dtype, shape,
    /// data_offsets), its escapes, its lack of spaces and its padding must not change.
    @Test func serializedBytesAreExactlyTheFormatWrittenSoFar() throws {
        var tensors = SafeTensors(metadata: [
            "step": "10",
            "quote\"back\\slash/": "line\nbreak\ttab\r\u{0}\u{8}\u{C}\u{1F}\u{7F} é😀",
        ])
        try tensors.add("W1", floats: [1, -2.5], shape: [2, 1])
        try tensors.add("名前 \"q\"", int64s: [-2], shape: [])
        try tensors.add("empty", doubles: [], shape: [0, 3])
        try tensors.add("pi", doubles: [.pi], shape: [1])
        let header = #"{"__metadata__":{"quote\"back\\slash/":"line\nbreak\ttab\r\u0000\b\f\u001f\#u{7F} é😀","step":"10"},"#
            + #""W1":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"#
            + #""名前 \"q\"":{"dtype":"I64","shape":[],"data_offsets":[8,16]},"#
            + #""empty":{"dtype":"F64","shape":[0,3],"data_offsets":[16,16]},"#
            + #""pi":{"dtype":"F64","shape":[1],"data_offsets":[16,24]}}"#
            + "  "  // padding: the data starts at byte 8 + 336, a multiple of 8
        let data: [UInt8] = [
            0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0,  // W1: 1.0f, -2.5f
            0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // 名前: Int64 -2
            0x18, 0x2D, 0x44, 0x54, 0xFB, 0x21, 0x09, 0x40,  // pi: Double.pi
        ]
        let expected: [UInt8] = [80, 1, 0, 0, 0, 0, 0, 0] + Array(header.utf8) + data
        let bytes = tensors.serialized()
        #expect(Array(header.utf8).count == 336)
        #expect(bytes == expected, "\(String(decoding: bytes.prefix(8 + 336), as: UTF8.self))")

        // The same bytes read back: a file written by earlier versions still loads.
        let read = try SafeTensors(bytes: expected)
        #expect(read.names == ["W1", "名前 \"q\"", "empty", "pi"])
        #expect(read.metadata == tensors.metadata)
        #expect(read.entries == tensors.entries)
        #expect(try read.doubles("pi").values == [.pi])
    }

    @Test func readsDtypesItCannotConvertButKeepsTheirBytes() throws {
        let header = #"{"i":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}"#
        let read = try SafeTensors(bytes: safeTensorsFile(header: header, data: [1, 0, 0, 0, 255, 255, 255, 255, 7, 8, 9]))
        #expect(read.entries["i"] == SafeTensors.Entry(dtype: .i32, shape: [2], bytes: [1, 0, 0, 0, 255, 255, 255, 255]))
        #expect(read.entries["u"] == SafeTensors.Entry(dtype: .u8, shape: [3], bytes: [7, 8, 9]))
    }

    @Test func readerOrdersNamesByOffsetAndAcceptsWhitespaceAndUnknownFields() throws {
        let header = #"""
             { "__metadata__" : {"a": "\u00e9\ud83d\ude00\/"},
              "second": {"data_offsets": [8, 16], "shape": [2], "dtype": "F32", "extra": [null, true]},
              "first": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]} }
            """#
        let data: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64]
        let read = try SafeTensors(bytes: safeTensorsFile(header: header, data: data))
        #expect(read.names == ["first", "second"])
        #expect(try read.floats("first").values == [1, 2])
        #expect(try read.floats("second").values == [3, 4])
        #expect(read.metadata == ["a": "é😀/"])
    }

    @Test func nullMetadataReadsAsEmpty() throws {
        let read = try SafeTensors(bytes: safeTensorsFile(header: #"{"__metadata__":null}"#))
        #expect(read.metadata.isEmpty)
    }
}

@Suite struct SafeTensorsAccessTests {
    @Test func missingTensorIsAClearError() throws {
        var tensors = SafeTensors()
        try tensors.add("present", floats: [1], shape: [1])
        let message = safeTensorsErrorMessage { _ = try tensors.floats("absent") }
        #expect(message.contains("no tensor named 'absent'") && message.contains("'present'"), "\(message)")
    }

    @Test func wrongDtypeIsAClearError() throws {
        var tensors = SafeTensors()
        try tensors.add("w", floats: [1], shape: [1])
        try tensors.add("n", int64s: [1], shape: [1])
        let message = safeTensorsErrorMessage { _ = try tensors.int64s("w") }
        #expect(message == "safetensors: tensor 'w' has dtype F32, not the I64 that was asked for")
        #expect(safeTensorsErrorMessage { _ = try tensors.doubles("w") }.contains("not the F64"))
        #expect(safeTensorsErrorMessage { _ = try tensors.floats("n") }.contains("has dtype I64"))
    }

    @Test func addRejectsDuplicateNames() throws {
        var tensors = SafeTensors()
        try tensors.add("w", floats: [1], shape: [1])
        let message = safeTensorsErrorMessage { try tensors.add("w", int64s: [1], shape: [1]) }
        #expect(message.contains("'w' was already added"), "\(message)")
        #expect(tensors.names == ["w"])
        #expect(tensors.entries["w"]?.dtype == .f32)
    }

    @Test func addRejectsCountsThatDisagreeWithTheShape() throws {
        var tensors = SafeTensors()
        let mismatch = safeTensorsErrorMessage { try tensors.add("w", floats: [1, 2, 3], shape: [2, 2]) }
        #expect(mismatch.contains("[2, 2]") && mismatch.contains("4 elements") && mismatch.contains("3 values"), "\(mismatch)")
        let negative = safeTensorsErrorMessage { try tensors.add("d", doubles: [1], shape: [-1]) }
        #expect(negative.contains("negative dimension -1"), "\(negative)")
        let overflow = safeTensorsErrorMessage { try tensors.add("o", int64s: [1], shape: [Int.max, 4]) }
        #expect(overflow.contains("too many"), "\(overflow)")
        #expect(tensors.names.isEmpty)
        #expect(tensors.entries.isEmpty)
    }

    @Test func addRejectsTheMetadataKeyAsAName() {
        var tensors = SafeTensors()
        let message = safeTensorsErrorMessage { try tensors.add("__metadata__", floats: [1], shape: [1]) }
        #expect(message.contains("reserved"), "\(message)")
    }
}

@Suite struct SafeTensorsMalformedTests {
    @Test func fileShorterThanEightBytes() {
        expectReadError([], mentions: ["0 bytes", "shorter than the 8-byte"])
        expectReadError([1, 2, 3], mentions: ["3 bytes", "shorter than the 8-byte"])
    }

    @Test func headerLengthPastTheEndOfTheFile() {
        var bytes = safeTensorsFile(header: "{}")
        bytes[0] = 100
        expectReadError(bytes, mentions: ["header length 100", "past the end of the file", "only 2 bytes"])
    }

    @Test func absurdHeaderLength() {
        expectReadError([255, 255, 255, 255, 255, 255, 255, 255, 0x7B, 0x7D],
                        mentions: ["header length 18446744073709551615", "absurdly large"])
        expectReadError([0, 0, 0, 0, 1, 0, 0, 0] + Array("{}".utf8), mentions: ["absurdly large"])
    }

    @Test func headerThatIsNotUTF8() {
        expectReadError(safeTensorsFile(headerBytes: Array("{\"".utf8) + [0xFF, 0xFE] + Array("\":1}".utf8)),
                        mentions: ["not valid UTF-8"])
    }

    @Test(arguments: [
        ("", "unexpected end of header"),
        ("{", "object key"),
        (#"{"a": }"#, "where a value was expected"),
        (#"{"a": {"dtype": "F32",}}"#, "object key"),
        (#"{"a" {}}"#, "':' was expected"),
        (#"{}}"#, "after the JSON value"),
        (#"{"a\x": 1}"#, "invalid escape"),
        (#"{"\ud800": 1}"#, "unpaired surrogate"),
        ("{\"tab\tin\": 1}", "control character"),
        (#"{"a": [01]}"#, "leading zero"),
        (#"{"a": tru}"#, "'true'"),
        ("{} x", "unexpected 'x' after the JSON value"),
    ])
    func headerThatIsNotJSON(header: String, problem: String) {
        expectReadError(safeTensorsFile(header: header), mentions: ["not valid JSON", problem])
    }

    @Test func deeplyNestedHeaderIsRejectedWithoutCrashing() {
        let header = "{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        expectReadError(safeTensorsFile(header: header), mentions: ["not valid JSON", "nested more than"])
    }

    @Test func headerThatIsNotAnObject() {
        expectReadError(safeTensorsFile(header: "[1, 2]"), mentions: ["must be a JSON object", "it is an array"])
        expectReadError(safeTensorsFile(header: #""text""#), mentions: ["must be a JSON object", "it is a string"])
    }

    @Test func entryThatIsNotAnObject() {
        expectReadError(safeTensorsFile(header: #"{"W1": [1, 2]}"#), mentions: ["tensor 'W1'", "must be a JSON object", "an array"])
    }

    @Test(arguments: ["dtype", "shape", "data_offsets"])
    func entryThatLacksAField(field: String) {
        var fields = [#""dtype":"F32""#, #""shape":[2]"#, #""data_offsets":[0,8]"#]
        fields.removeAll { $0.hasPrefix("\"\(field)\"") }
        let header = "{\"W1\":{\(fields.joined(separator: ","))}}"
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 8)),
                        mentions: ["tensor 'W1'", "lacks \"\(field)\""])
    }

    @Test func unknownDtype() {
        let header = #"{"W1":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#
        expectReadError(safeTensorsFile(header: header, data: [0, 0, 0, 0]), mentions: ["tensor 'W1'", "dtype 'BF16'", "supported: F32"])
        let numeric = #"{"W1":{"dtype":4,"shape":[2],"data_offsets":[0,4]}}"#
        expectReadError(safeTensorsFile(header: numeric, data: [0, 0, 0, 0]), mentions: ["dtype 4", "must be a string"])
    }

    @Test func negativeShapeDimension() {
        let header = #"{"W1":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]}}"#
        expectReadError(safeTensorsFile(header: header), mentions: ["tensor 'W1'", "[2, -3]", "negative dimension -3"])
    }

    @Test(arguments: ["1.5", "2.0", "1e3", "\"2\"", "true", "null", "99999999999999999999999"])
    func nonIntegerShapeDimension(dimension: String) {
        let header = "{\"W1\":{\"dtype\":\"F32\",\"shape\":[\(dimension)],\"data_offsets\":[0,0]}}"
        expectReadError(safeTensorsFile(header: header), mentions: ["tensor 'W1'", "not a non-negative integer"])
    }

    @Test func longShapesAreCutShortInMessages() {
        let dimensions = Array(repeating: "1", count: 100_000).joined(separator: ",")
        let header = "{\"W1\":{\"dtype\":\"F32\",\"shape\":[\(dimensions),-1],\"data_offsets\":[0,0]}}"
        let message = safeTensorsReadError(safeTensorsFile(header: header))
        #expect(message.contains("negative dimension -1") && message.contains("…"), "\(message.prefix(300))")
        #expect(message.utf8.count < 400, "message is \(message.utf8.count) bytes")
    }

    @Test func shapeThatIsNotAnArray() {
        let header = #"{"W1":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}"#
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 8)),
                        mentions: ["tensor 'W1'", "shape must be an array"])
    }

    @Test func shapeWhoseElementCountOverflows() {
        let header = #"{"W1":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}"#
        expectReadError(safeTensorsFile(header: header), mentions: ["tensor 'W1'", "too large"])
        let bytesOverflow = #"{"W1":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}"#
        expectReadError(safeTensorsFile(header: bytesOverflow), mentions: ["tensor 'W1'", "too many bytes"])
    }

    @Test(arguments: ["[0]", "[0,8,16]", "[-1,7]", "[8,0]", "[0.0,8]", "{}", "\"0,8\"", "[0,99999999999999999999999]"])
    func malformedDataOffsets(offsets: String) {
        let header = "{\"W1\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":\(offsets)}}"
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 8)),
                        mentions: ["tensor 'W1'", "two non-negative integers [begin, end] with begin <= end"])
    }

    @Test func dataOffsetsPastTheDataSection() {
        let header = #"{"W1":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]}}"#
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 40)),
                        mentions: ["tensor 'W1'", "[0, 48]", "only 40 bytes"])
    }

    @Test func overlappingDataOffsets() {
        let header = #"{"a":\#(twoFloatsEntry),"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 12)),
                        mentions: ["tensor 'b'", "overlaps tensor 'a'"])
    }

    @Test func gapBetweenTensors() {
        let header = #"{"a":\#(twoFloatsEntry),"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 20)),
                        mentions: ["bytes 8..<12", "belong to no tensor", "'b'", "contiguously"])
    }

    @Test func gapBeforeTheFirstTensor() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 12)),
                        mentions: ["bytes 0..<4", "belong to no tensor"])
    }

    @Test func trailingBytesAfterTheLastTensor() {
        expectReadError(safeTensorsFile(header: "{\"a\":\(twoFloatsEntry)}", data: Array(repeating: 0, count: 12)),
                        mentions: ["12 bytes", "cover only 8", "last 4 bytes belong to no tensor"])
        expectReadError(safeTensorsFile(header: "{}", data: [1]), mentions: ["cover only 0"])
    }

    @Test func elementCountDisagreeingWithTheByteLength() {
        let header = #"{"W1":{"dtype":"F32","shape":[3,4],"data_offsets":[0,40]}}"#
        let message = safeTensorsReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 40)))
        #expect(message == "safetensors: tensor 'W1' has shape [3, 4] (12 elements of F32 = 48 bytes) but its data_offsets span 40 bytes")
    }

    @Test func duplicateTensorNames() {
        let header = "{\"a\":\(twoFloatsEntry),\"a\":\(twoFloatsEntry)}"
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 8)),
                        mentions: ["tensor 'a'", "more than once"])
    }

    @Test(arguments: [
        (#"{"k": 5}"#, "key 'k' has a number value 5"),
        (#"{"k": ["v"]}"#, "key 'k' has an array value"),
        (#"{"k": "v", "k": "w"}"#, "key 'k' more than once"),
        (#"["k", "v"]"#, "it is an array"),
        (#""k=v""#, "it is a string"),
    ])
    func metadataThatIsNotAMapOfStrings(metadata: String, problem: String) {
        expectReadError(safeTensorsFile(header: "{\"__metadata__\":\(metadata)}"), mentions: ["'__metadata__'", problem])
    }

    // Foundation's JSONSerialization and JSONDecoder on Linux (Swift 6.3) accept the trailing
    // commas and the byte-order mark below, keep only the last of two equal keys, and read 2.0
    // and 1e3 as integers; the header reader must not (see SafeTensorsHeader.swift).

    @Test(arguments: [
        #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},}"#,
        #"{"a": {"dtype": "F32", "shape": [2,], "data_offsets": [0, 8]}}"#,
        #"{"__metadata__": {"k": "v",}}"#,
    ])
    func trailingCommasAreNotJSON(header: String) {
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 8)), mentions: ["not valid JSON"])
    }

    @Test func byteOrderMarkBeforeTheHeaderIsNotJSON() {
        expectReadError(safeTensorsFile(headerBytes: [0xEF, 0xBB, 0xBF] + Array("{}".utf8)),
                        mentions: ["not valid JSON", "byte 0xef"])
    }

    @Test func duplicateNamesSpelledWithEscapes() {
        let header = "{\"a\":\(twoFloatsEntry),\"\\u0061\":\(twoFloatsEntry)}"
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 8)),
                        mentions: ["tensor 'a'", "more than once"])
    }

    @Test func duplicateMetadataEntries() {
        let header = #"{"__metadata__":{"a":"1"},"__metadata__":{"b":"2"}}"#
        expectReadError(safeTensorsFile(header: header), mentions: ["more than one '__metadata__'"])
    }

    @Test func duplicateFieldInATensorEntry() {
        let header = #"{"W1":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 8)),
                        mentions: ["tensor 'W1'", "\"dtype\" more than once"])
    }

    @Test(arguments: [
        "[0,8.0]", "[0,8e0]", "[0,80e-1]", "[-0.0,8]", "[0,true]", "[0,null]", "[0,\"8\"]", "[0,[8]]",
        "[0,9223372036854775808]", "[0,18446744073709551615]", "[0,1e23]", "[-9223372036854775809,8]",
    ])
    func dataOffsetsThatAreNotExactNonNegativeIntegers(offsets: String) {
        let header = "{\"W1\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":\(offsets)}}"
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 8)),
                        mentions: ["tensor 'W1'", "two non-negative integers [begin, end] with begin <= end"])
    }

    @Test(arguments: ["8.0", "-0.0", "[2]", "{}", "9223372036854775808", "18446744073709551615", "1e23"])
    func shapeDimensionsThatAreNotExactNonNegativeIntegers(dimension: String) {
        let header = "{\"W1\":{\"dtype\":\"U8\",\"shape\":[\(dimension)],\"data_offsets\":[0,8]}}"
        expectReadError(safeTensorsFile(header: header, data: Array(repeating: 0, count: 8)),
                        mentions: ["tensor 'W1'", "not a non-negative integer"])
    }

    @Test func largeIntegersAreReadExactly() {
        // 2^53 + 1 is the first integer a Double cannot hold: read through a Double, the shape
        // and the offsets would round to 2^53 and the message would show ...992.
        let header = #"{"W1":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,9007199254740993]}}"#
        expectReadError(safeTensorsFile(header: header), mentions: ["[0, 9007199254740993]", "only 0 bytes"])
        // Int.max itself is a valid integer; the shape's byte count is what overflows.
        let largest = #"{"W1":{"dtype":"F32","shape":[9223372036854775807],"data_offsets":[0,0]}}"#
        expectReadError(safeTensorsFile(header: largest), mentions: ["tensor 'W1'", "too many bytes"])
    }

    @Test(arguments: [
        (#"{"k": true}"#, "key 'k' has a boolean value true"),
        (#"{"k": null}"#, "key 'k' has null value null"),
        (#"{"k": {"a": "b"}}"#, "key 'k' has an object value"),
        (#"5"#, "it is a number"),
    ])
    func metadataValuesMustBeStrings(metadata: String, problem: String) {
        expectReadError(safeTensorsFile(header: "{\"__metadata__\":\(metadata)}"), mentions: ["'__metadata__'", problem])
    }

    @Test func namesInMessagesStayOnOneLine() {
        let header = #"{"bad\nname":{"dtype":"X","shape":[],"data_offsets":[0,0]}}"#
        expectReadError(safeTensorsFile(header: header), mentions: [#"'bad\nname'"#, "dtype 'X'"])
    }
}

@Suite struct SafeTensorsFileTests {
    @Test func writeThenReadAFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("model.safetensors")
        var tensors = SafeTensors(metadata: ["step": "10"])
        try tensors.add("w", floats: [1, -2, 3], shape: [3])
        try tensors.write(to: url)
        let read = try SafeTensors(contentsOf: url)
        #expect(read.names == ["w"])
        #expect(read.entries == tensors.entries)
        #expect(read.metadata == ["step": "10"])
    }

    @Test func readingAMissingFileNamesThePath() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("absent.safetensors")
        let missing = safeTensorsErrorMessage { _ = try SafeTensors(contentsOf: url) }
        #expect(missing == "safetensors: cannot read '\(url.path)': no such file")
        let isDirectory = safeTensorsErrorMessage { _ = try SafeTensors(contentsOf: directory) }
        #expect(isDirectory.contains(directory.path) && isDirectory.contains("cannot read"), "\(isDirectory)")
    }

    @Test func readingAMalformedFileNamesThePath() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("short.safetensors")
        try writeAtomically([1, 2, 3], to: url)
        let message = safeTensorsErrorMessage { _ = try SafeTensors(contentsOf: url) }
        #expect(message.hasPrefix("safetensors: file is 3 bytes") && message.contains(url.path), "\(message)")
    }

    @Test func writeAtomicallyIntoAMissingDirectoryThrowsNamingThePath() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("missing/out.safetensors")
        let message = safeTensorsErrorMessage { try writeAtomically([1, 2, 3], to: url) }
        #expect(message.contains(url.path) && message.contains("does not exist"), "\(message)")
        #expect(!message.contains("\n"))
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func writeAtomicallyReplacesAnExistingFileAndLeavesNoTemporaryFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("out.bin")
        try writeAtomically(Array(repeating: 9, count: 1000), to: url)
        #expect(try [UInt8](Data(contentsOf: url)) == Array(repeating: 9, count: 1000))
        try writeAtomically([1, 2, 3], to: url)
        #expect(try [UInt8](Data(contentsOf: url)) == [1, 2, 3])
        try writeAtomically([], to: url)
        #expect(try [UInt8](Data(contentsOf: url)) == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.bin"])
    }

    @Test func writeAtomicallyOverADirectoryThrowsAndCleansUp() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let target = directory.appendingPathComponent("occupied")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data([0]).write(to: target.appendingPathComponent("inside"))
        let message = safeTensorsErrorMessage { try writeAtomically([1], to: target) }
        #expect(message.hasPrefix("cannot write '\(target.path)'"), "\(message)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["occupied"])
    }
}
