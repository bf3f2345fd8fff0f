/// CRC-32C (Castagnoli), the checksum of a checkpoint's tensor data.
///
/// Written here because neither Foundation nor the packages this project may use have it, and it
/// is a dozen lines: the table-driven form of the reflected polynomial 0x82F63B78, as in RFC 3720
/// (iSCSI) and the TFRecord files that TensorBoard reads. Why a CRC and not SHA-256: the data is
/// protected against damage (flipped bits, torn or truncated writes), not against tampering, and
/// a CRC detects every burst of up to 32 flipped bits, at a fraction of the cost.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { byte in
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    /// The CRC-32C of `bytes`, continuing from `crc` (the checksum of the bytes before them).
    static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var crc = ~crc
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return ~crc
    }

    /// The CRC-32C of `bytes`.
    static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }
}

extension SafeTensors {
    /// The CRC-32C of the data section: every tensor's bytes, in the order of `names` (the order
    /// of the data, for a file read or built).
    var dataChecksum: UInt32 {
        names.reduce(0) { crc, name in CRC32C.checksum(entries[name]!.bytes, continuing: crc) }
    }
}
