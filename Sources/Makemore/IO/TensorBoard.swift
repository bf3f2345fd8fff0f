import Foundation

// TensorBoard's event files, written by hand.
//
// An event file is a sequence of TFRecords, each a serialized `tensorflow.Event` protobuf:
//
//     uint64 length, little-endian | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
//
// with `masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8`. The messages used are four
// (from tensorflow/core/util/event.proto, framework/summary.proto):
//
//     Event          { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//     Summary        { repeated Value value = 1; }
//     Summary.Value  { string tag = 1; float simple_value = 2; HistogramProto histo = 5; }
//     HistogramProto { double min = 1, max = 2, num = 3, sum = 4, sum_squares = 5;
//                      repeated double bucket_limit = 6 [packed]; repeated double bucket = 7 [packed]; }
//
// Why not swift-protobuf with generated code: these are fourteen fields of three wire types
// (varint, 64- and 32-bit, length-delimited), written and never read, about sixty lines below;
// the dependency would be a package of several thousand lines, a code generator to run when the
// .proto files change, and generated files to review, for the same bytes. TensorBoard's own
// reader checks what is written here (`reference/tensorboard_check.py`, in CI).

/// A protobuf message being encoded: fields appended in order.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    /// Empties the message, keeping its memory (the writers of a file are reused, event after event).
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// A base-128 varint.
    mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func appendKey(_ field: Int, _ wireType: UInt64) {
        appendVarint(UInt64(field) << 3 | wireType)
    }

    /// Field `field` as a varint (wire type 0): int64, as two's complement for a negative value.
    mutating func int64(_ field: Int, _ value: Int64) {
        appendKey(field, 0)
        appendVarint(UInt64(bitPattern: value))
    }

    /// Field `field` as a little-endian double (wire type 1).
    mutating func double(_ field: Int, _ value: Double) {
        appendKey(field, 1)
        appendLittleEndian(value.bitPattern)
    }

    /// Field `field` as a little-endian float (wire type 5).
    mutating func float(_ field: Int, _ value: Float) {
        appendKey(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Field `field` as length-delimited bytes (wire type 2): a string, a message, a packed array.
    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        appendKey(field, 2)
        appendVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Field `field` as a UTF-8 string.
    mutating func string(_ field: Int, _ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            appendKey(field, 2)
            appendVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Field `field` as a packed repeated double.
    mutating func packedDoubles(_ field: Int, _ values: [Double]) {
        var packed = ProtobufWriter()
        for v in values { packed.appendLittleEndian(v.bitPattern) }
        self.bytes(field, packed.bytes)
    }

    private mutating func appendLittleEndian(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// The events of a run for TensorBoard: scalars and histograms by tag and step, framed as the
/// TFRecords of an event file (`events.out.tfevents.*`).
package struct TensorBoardEvents {
    /// The file's bytes so far: the version record, then one record per event.
    package private(set) var bytes: [UInt8] = []
    // The messages being built, reused from event to event (innermost first).
    private var value = ProtobufWriter(), summary = ProtobufWriter(), event = ProtobufWriter()

    /// An event file that starts with the version record TensorBoard expects (`brain.Event:2`).
    package init(wallTime: Double) {
        event.double(1, wallTime)
        event.string(3, "brain.Event:2")
        appendRecord()
    }

    /// A scalar `value` under `tag` at `step`.
    package mutating func addScalar(_ tag: String, _ scalar: Float, step: Int, wallTime: Double) {
        value.removeAll()
        value.string(1, tag)
        value.float(2, scalar)
        appendSummary(step: step, wallTime: wallTime)
    }

    /// A histogram under `tag` at `step`: `histogram`'s bins, with `moments` of the same values.
    package mutating func addHistogram(_ tag: String, _ histogram: Histogram, moments: Moments, step: Int, wallTime: Double) {
        var histo = ProtobufWriter()
        histo.double(1, moments.min)
        histo.double(2, moments.max)
        histo.double(3, Double(moments.count))
        histo.double(4, moments.sum)
        histo.double(5, moments.sumOfSquares)
        // TensorBoard's bucket_limit is each bin's right edge; the first bin starts at `min`.
        histo.packedDoubles(6, Array(histogram.edges.dropFirst()))
        histo.packedDoubles(7, histogram.counts.map(Double.init))
        value.removeAll()
        value.string(1, tag)
        value.bytes(5, histo.bytes)
        appendSummary(step: step, wallTime: wallTime)
    }

    /// The event of the summary of `value`.
    private mutating func appendSummary(step: Int, wallTime: Double) {
        summary.removeAll()
        summary.bytes(1, value.bytes)
        event.removeAll()
        event.double(1, wallTime)
        event.int64(2, Int64(step))
        event.bytes(5, summary.bytes)
        appendRecord()
    }

    /// `event` as one TFRecord: length, masked CRC-32C of the length, data, masked CRC-32C of the data.
    private mutating func appendRecord() {
        let start = bytes.count
        withUnsafeBytes(of: UInt64(event.bytes.count).littleEndian) { bytes.append(contentsOf: $0) }
        let lengthChecksum = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<start + 8])) }
        appendUInt32(TensorBoardEvents.masked(lengthChecksum))
        bytes += event.bytes
        appendUInt32(TensorBoardEvents.masked(CRC32C.checksum(event.bytes)))
    }

    private mutating func appendUInt32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// TFRecord's masked CRC: rotated right by 15 bits plus a constant.
    static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// The scalars and histograms of a diagnostics snapshot: `update_ratio/<weight>` (log10),
    /// `grad_data_ratio/<weight>`, `saturated/<nonlinearity>`; histograms `activations/<name>`,
    /// `activation_grads/<name>` and `weight_grads/<weight>`.
    package mutating func add(_ snapshot: DiagnosticsSnapshot, wallTime: Double) {
        let step = snapshot.step
        for n in snapshot.nonlinearities {
            addHistogram("activations/\(n.name)", n.output.histogram, moments: n.output.moments, step: step, wallTime: wallTime)
            addHistogram("activation_grads/\(n.name)", n.gradient.histogram, moments: n.gradient.moments, step: step, wallTime: wallTime)
            if n.kind.saturates { addScalar("saturated/\(n.name)", Float(n.saturatedShare), step: step, wallTime: wallTime) }
        }
        for w in snapshot.weights {
            addHistogram("weight_grads/\(w.name)", w.gradient.histogram, moments: w.gradient.moments, step: step, wallTime: wallTime)
            addScalar("grad_data_ratio/\(w.name)", Float(w.gradientToData), step: step, wallTime: wallTime)
            if let ratio = w.updateToData { addScalar("update_ratio/\(w.name)", Float(ratio), step: step, wallTime: wallTime) }
        }
    }
}

/// The diagnostics files of a run directory, brought up to date at each save: `diagnostics.csv`
/// (rewritten whole, atomically) (`step,name,metric,value`: each weight's
/// `update_ratio` and `grad_data_ratio`, each nonlinearity's `saturated`, `output_std` and
/// `grad_std`) and, with TensorBoard, one event file for this process, appended to
/// (`events.out.tfevents.<time>.makemore.<pid>`): `Loss/train` and `lr` of every step, `Loss/dev`
/// at each evaluation, and each snapshot (`TensorBoardEvents.add`). A resumed run writes a new
/// event file from the step after its checkpoint; TensorBoard reads a directory's files together.
package final class DiagnosticsFiles {
    /// The name of the diagnostics table in a run directory.
    package static let csvFile = "diagnostics.csv"
    /// The name of the report in a run directory.
    package static let reportFile = "report.html"

    private let directory: URL
    private let startStep: Int
    private var events: TensorBoardEvents?
    private let eventsURL: URL
    private var csv: [UInt8]
    private var logRowsWritten = 0
    private var devWritten = 0
    private var snapshotsWritten = 0
    private var eventBytesWritten = 0

    /// The files of `directory` for a run that starts after `startStep` (0 for a new run; the
    /// rows of an earlier `diagnostics.csv` up to it are kept), with an event file when `tensorBoard`.
    package init(directory: URL, startStep: Int, tensorBoard: Bool) {
        self.directory = directory
        self.startStep = startStep
        let now = Date().timeIntervalSince1970
        eventsURL = directory.appendingPathComponent("events.out.tfevents.\(Int(now)).makemore.\(getpid())")
        events = tensorBoard ? TensorBoardEvents(wallTime: now) : nil
        csv = Array("step,name,metric,value\n".utf8)
        if startStep > 0, let data = FileManager.default.contents(atPath: directory.appendingPathComponent(Self.csvFile).path) {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst() {
                guard let step = line.split(separator: ",").first.flatMap({ Int($0) }), step <= startStep else { continue }
                csv += Array((line + "\n").utf8)
            }
        }
    }

    /// Seconds spent encoding and writing the files.
    package private(set) var seconds = 0.0

    /// Removes what an earlier run left in `directory` (its event files, `diagnostics.csv`,
    /// `report.html`): a new run in the directory (`--overwrite`) starts without them.
    package static func removeEarlierRun(in directory: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix("events.out.tfevents.") || name == csvFile || name == reportFile {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    /// The event file written, if any.
    package var eventFile: URL? { events == nil ? nil : eventsURL }

    /// Encodes what `log` and `snapshots` hold beyond the last save and rewrites the files.
    package func save(log: TrainingLog, snapshots: [DiagnosticsSnapshot]) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let now = Date().timeIntervalSince1970
        for snapshot in snapshots.dropFirst(snapshotsWritten) {
            func row(_ name: String, _ metric: String, _ value: Double) { csv += Array("\(snapshot.step),\(name),\(metric),\(value)\n".utf8) }
            for n in snapshot.nonlinearities {
                if n.kind.saturates { row(n.name, "saturated", n.saturatedShare) }
                row(n.name, "output_std", n.output.moments.std)
                row(n.name, "grad_std", n.gradient.moments.std)
            }
            for w in snapshot.weights {
                if let ratio = w.updateToData { row(w.name, "update_ratio", ratio) }
                row(w.name, "grad_data_ratio", w.gradientToData)
            }
            events?.add(snapshot, wallTime: now)
        }
        snapshotsWritten = snapshots.count
        try writeAtomically(csv, to: directory.appendingPathComponent(Self.csvFile))
        guard events != nil else { return }
        for i in logRowsWritten..<log.losses.count where log.firstStep + i > startStep {
            let step = log.firstStep + i
            events!.addScalar("Loss/train", log.losses[i], step: step, wallTime: now)
            events!.addScalar("lr", log.learningRates[i], step: step, wallTime: now)
        }
        logRowsWritten = log.losses.count
        for dev in log.devLosses.dropFirst(devWritten) where dev.step > startStep {
            events!.addScalar("Loss/dev", Float(dev.loss), step: dev.step, wallTime: now)
        }
        devWritten = log.devLosses.count
        try appendDurably(events!.bytes[eventBytesWritten...], to: eventsURL)
        eventBytesWritten = events!.bytes.count
    }
}
