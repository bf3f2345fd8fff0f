/// The per-step record of a run: learning rate and training loss of every step, and the dev
/// loss where it was measured. Written as `log.csv`.
public struct TrainingLog: Equatable, Sendable {
    /// `losses[i]` is the training loss of step `firstStep + i`.
    public private(set) var firstStep = 1
    /// The training loss of each step (the mean cross-entropy of its batch, in nats).
    public private(set) var losses: [Float] = []
    /// The learning rate of each step, in the order of `losses`.
    public private(set) var learningRates: [Float] = []
    /// The dev loss (mean cross-entropy over the dev split, in nats) after the steps where it was
    /// measured.
    public private(set) var devLosses: [(step: Int, loss: Double)] = []

    /// An empty log: a run that has not taken a step.
    public init() {}

    /// The last step logged (`firstStep - 1` when the log is empty).
    public var lastStep: Int { firstStep + losses.count - 1 }

    /// Room for `steps` more steps, so that appending does not allocate during training.
    mutating func reserveCapacity(_ steps: Int) {
        losses.reserveCapacity(losses.count + steps)
        learningRates.reserveCapacity(learningRates.count + steps)
    }

    mutating func append(step: Int, learningRate: Double, loss: Float) {
        if losses.isEmpty { firstStep = step }
        precondition(step == lastStep + 1 || losses.isEmpty)
        losses.append(loss)
        learningRates.append(Float(learningRate))
    }

    mutating func recordDevLoss(_ loss: Double, atStep step: Int) {
        devLosses.append((step, loss))
    }

    /// The records of steps up to `step`.
    package func truncated(toStep step: Int) -> TrainingLog {
        var result = self
        let keep = Swift.max(0, Swift.min(losses.count, step - firstStep + 1))
        result.losses.removeSubrange(keep...)
        result.learningRates.removeSubrange(keep...)
        result.devLosses.removeAll { $0.step > step }
        return result
    }

    /// `step,lr,train_loss,dev_loss`, one row per step; `dev_loss` is empty where it was not
    /// measured. Built as UTF-8 bytes directly: at 200,000 steps it is a few megabytes.
    var csv: [UInt8] {
        var bytes: [UInt8] = []
        appendCSV(to: &bytes, rowsAlreadyWritten: 0)
        return bytes
    }

    /// Appends to `bytes` the CSV rows after the first `rowsAlreadyWritten` (and the header, if
    /// `bytes` is empty), so that a log saved again and again is formatted only once.
    func appendCSV(to bytes: inout [UInt8], rowsAlreadyWritten: Int) {
        if bytes.isEmpty { bytes += "step,lr,train_loss,dev_loss\n".utf8 }
        bytes.reserveCapacity(bytes.count + (losses.count - rowsAlreadyWritten) * 28)
        var dev = devLosses.lastIndex { $0.step < firstStep + rowsAlreadyWritten }.map { $0 + 1 } ?? 0
        for i in rowsAlreadyWritten..<losses.count {
            let step = firstStep + i
            bytes += "\(step),\(learningRates[i]),\(losses[i]),".utf8
            while dev < devLosses.count && devLosses[dev].step < step { dev += 1 }
            if dev < devLosses.count && devLosses[dev].step == step { bytes += "\(devLosses[dev].loss)".utf8 }
            bytes.append(UInt8(ascii: "\n"))
        }
    }

    /// Parses what `csv` wrote.
    init(csv: String, source: String = "log.csv") throws {
        var lines = csv.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first == "step,lr,train_loss,dev_loss" else {
            throw MakemoreError("\(source): not a training log (the first line should be 'step,lr,train_loss,dev_loss')")
        }
        lines.removeFirst()
        for (number, line) in lines.enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 4, let step = Int(fields[0]), let lr = Float(fields[1]), let loss = Float(fields[2]),
                losses.isEmpty || step == lastStep + 1
            else { throw MakemoreError("\(source):\(number + 2): malformed row '\(line)'") }
            if losses.isEmpty { firstStep = step }
            losses.append(loss)
            learningRates.append(lr)
            if !fields[3].isEmpty {
                guard let dev = Double(fields[3]) else { throw MakemoreError("\(source):\(number + 2): malformed dev loss") }
                devLosses.append((step, dev))
            }
        }
    }

    public static func == (a: TrainingLog, b: TrainingLog) -> Bool {
        a.firstStep == b.firstStep && a.losses == b.losses && a.learningRates == b.learningRates
            && a.devLosses.map(\.step) == b.devLosses.map(\.step) && a.devLosses.map(\.loss) == b.devLosses.map(\.loss)
    }
}
