import Foundation

/// Renders the loss curve of a training run as a standalone SVG document, the way the makemore
/// lecture plots it: the per-step training loss is averaged over consecutive windows of steps
/// (the mean of `log10(loss)`, as in `torch.tensor(lossi).view(-1, 1000).mean(1)`), drawn as a
/// line on a logarithmic loss axis, and the dev-set loss is drawn as dots at the steps where it
/// was evaluated.
///
/// The document has a title, a "step" axis with "nice" tick labels (`0`, `50k`, `100k`, …), a
/// "loss (log scale)" axis labelled with actual loss values (`2.0`, `2.2`, …), light grid lines,
/// a legend, a white background and `font-family="sans-serif"`. Non-finite and non-positive
/// losses are skipped; with nothing left to draw the plot says "no data yet". Every number in the
/// document has at most two decimals, and every data coordinate lies inside the plot area (the
/// `<rect class="plot-area">`).
///
/// Elements carry classes so that the document can be inspected: `plot-area`, `train` (the one
/// `<polyline>`), `dev` (one `<circle>` per dev point), `xtick` / `ytick` (tick labels),
/// `xlabel` / `ylabel`, `title`, `legend`, `empty`. The legend's markers are a `<line>` and a
/// rounded `<rect>`, so the only `<polyline>` and `<circle>` elements are data.
struct LossPlot: Sendable {
    var title: String
    var width: Int = 800
    var height: Int = 450

    init(title: String, width: Int = 800, height: Int = 450) {
        self.title = title
        self.width = width
        self.height = height
    }

    /// `training[i]` is the loss of step `firstStep + i` (steps numbered from 1 unless told otherwise).
    /// `dev` holds (step, loss) pairs. `window` nil = choose so that about 200 points are drawn (at least 1).
    func svg(
        training: [Float], firstStep: Int = 1, dev: [(step: Int, loss: Double)], window: Int? = nil
    ) -> String {
        func fmt(_ value: Double) -> String { Self.fmt(value) }
        let window = Self.resolvedWindow(window, count: training.count)
        let trainPoints = Self.windowedLog10Means(training, firstStep: firstStep, window: window)
        let devPoints = dev.compactMap { point -> (step: Double, log10Loss: Double)? in
            guard let value = Self.log10IfValid(point.loss) else { return nil }
            return (Double(point.step), value)
        }

        let canvasWidth = Double(max(width, Self.minimumWidth))
        let canvasHeight = Double(max(height, Self.minimumHeight))
        let frame = Frame(
            left: Self.marginLeft, top: Self.marginTop,
            width: canvasWidth - Self.marginLeft - Self.marginRight,
            height: canvasHeight - Self.marginTop - Self.marginBottom)

        var out = Document()
        out.line(##"<?xml version="1.0" encoding="UTF-8"?>"##)
        out.line(
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(fmt(canvasWidth))" height="\##(fmt(canvasHeight))" "##
                + ##"viewBox="0 0 \##(fmt(canvasWidth)) \##(fmt(canvasHeight))" font-family="sans-serif" font-size="12">"##)
        out.line(##"<rect x="0" y="0" width="\##(fmt(canvasWidth))" height="\##(fmt(canvasHeight))" fill="#ffffff"/>"##)
        let maxTitleCharacters = max(8, Int((canvasWidth - 24) / 9))
        out.line(
            ##"<text class="title" x="\##(fmt(canvasWidth / 2))" y="\##(fmt(Self.marginTop / 2 + 6))" "##
                + ##"text-anchor="middle" font-size="16" font-weight="bold" fill="#222222">"##
                + Self.escapeXML(Self.truncated(title, to: maxTitleCharacters)) + "</text>")
        out.line(
            ##"<rect class="plot-area" x="\##(fmt(frame.left))" y="\##(fmt(frame.top))" "##
                + ##"width="\##(fmt(frame.width))" height="\##(fmt(frame.height))" fill="#ffffff" stroke="none"/>"##)
        // Axis titles.
        out.line(
            ##"<text class="xlabel" x="\##(fmt(frame.left + frame.width / 2))" y="\##(fmt(canvasHeight - 14))" "##
                + ##"text-anchor="middle" font-size="13" fill="#222222">step</text>"##)
        let labelCenterY = frame.top + frame.height / 2
        out.line(
            ##"<text class="ylabel" transform="translate(18,\##(fmt(labelCenterY))) rotate(-90)" "##
                + ##"text-anchor="middle" font-size="13" fill="#222222">loss (log scale)</text>"##)

        if trainPoints.isEmpty && devPoints.isEmpty {
            out.line(
                ##"<text class="empty" x="\##(fmt(frame.left + frame.width / 2))" y="\##(fmt(frame.top + frame.height / 2 + 5))" "##
                    + ##"text-anchor="middle" font-size="15" fill="#888888">no data yet</text>"##)
            out.line(Self.frameRect(frame))
            out.line("</svg>")
            return out.text
        }

        // X domain: every step drawn, starting at a tick, with a little room on the right.
        var stepLow = Double.infinity
        var stepHigh = -Double.infinity
        if !trainPoints.isEmpty {
            stepLow = Double(firstStep)
            stepHigh = Double(firstStep) + Double(training.count - 1)
        }
        for point in devPoints {
            stepLow = min(stepLow, point.step)
            stepHigh = max(stepHigh, point.step)
        }
        if stepHigh - stepLow < 4 {
            let center = (stepLow + stepHigh) / 2
            stepLow = stepLow >= 0 ? max(0, center - 2) : center - 2
            stepHigh = stepLow + 4
        }
        let xStep = Self.stepTickSpacing(low: stepLow, high: stepHigh)
        let xLow = (stepLow / xStep).rounded(.down) * xStep
        let xHigh = stepHigh + 0.02 * (stepHigh - xLow)
        let xTicks = Self.ticks(spacing: xStep, low: xLow, high: xHigh)
        let xLabels = Self.stepLabels(xTicks)

        // Y domain, in log10(loss): every value drawn, padded, widened until it holds nice ticks.
        let logs = trainPoints.map(\.log10Loss) + devPoints.map(\.log10Loss)
        var logLow = logs.min()!
        var logHigh = logs.max()!
        if logHigh - logLow < 0.02 {
            let center = (logLow + logHigh) / 2
            logLow = center - 0.01
            logHigh = center + 0.01
        }
        let pad = 0.06 * (logHigh - logLow)
        let yAxis = Self.lossTicks(log10Low: logLow - pad, log10High: logHigh + pad)
        let yLabels = Self.lossLabels(yAxis.ticks)

        func x(_ step: Double) -> Double {
            frame.clampX(frame.left + (step - xLow) / (xHigh - xLow) * frame.width)
        }
        func y(_ log10Loss: Double) -> Double {
            frame.clampY(frame.bottom - (log10Loss - yAxis.low) / (yAxis.high - yAxis.low) * frame.height)
        }

        // Grid, ticks and tick labels.
        out.line(##"<g class="grid" stroke="#e6e6e6" stroke-width="1">"##)
        for tick in xTicks {
            let px = x(tick)
            out.line(##"<line x1="\##(fmt(px))" y1="\##(fmt(frame.top))" x2="\##(fmt(px))" y2="\##(fmt(frame.bottom))"/>"##)
        }
        for tick in yAxis.ticks {
            let py = y(log10(tick))
            out.line(##"<line x1="\##(fmt(frame.left))" y1="\##(fmt(py))" x2="\##(fmt(frame.right))" y2="\##(fmt(py))"/>"##)
        }
        out.line("</g>")
        out.line(Self.frameRect(frame))
        out.line(##"<g stroke="#444444" stroke-width="1">"##)
        for tick in xTicks {
            let px = x(tick)
            out.line(##"<line x1="\##(fmt(px))" y1="\##(fmt(frame.bottom))" x2="\##(fmt(px))" y2="\##(fmt(frame.bottom + 5))"/>"##)
        }
        for tick in yAxis.ticks {
            let py = y(log10(tick))
            out.line(##"<line x1="\##(fmt(frame.left - 5))" y1="\##(fmt(py))" x2="\##(fmt(frame.left))" y2="\##(fmt(py))"/>"##)
        }
        out.line("</g>")
        out.line(##"<g fill="#444444" font-size="12">"##)
        for (tick, label) in zip(xTicks, xLabels) {
            out.line(
                ##"<text class="xtick" x="\##(fmt(x(tick)))" y="\##(fmt(frame.bottom + 19))" text-anchor="middle">\##(label)</text>"##)
        }
        for (tick, label) in zip(yAxis.ticks, yLabels) {
            out.line(
                ##"<text class="ytick" x="\##(fmt(frame.left - 8))" y="\##(fmt(y(log10(tick)) + 4))" text-anchor="end">\##(label)</text>"##)
        }
        out.line("</g>")

        // Data.
        let trainColor = "#1f77b4"
        let devColor = "#e6550d"
        if !trainPoints.isEmpty {
            let points = trainPoints.map { "\(fmt(x($0.step))),\(fmt(y($0.log10Loss)))" }.joined(separator: " ")
            out.line(
                ##"<polyline class="train" fill="none" stroke="\##(trainColor)" stroke-width="1.6" "##
                    + ##"stroke-linejoin="round" stroke-linecap="round" points="\##(points)"/>"##)
            if trainPoints.count == 1, let point = trainPoints.first {
                // A one-point polyline draws nothing: mark the point itself.
                out.line(
                    ##"<rect class="train-marker" x="\##(fmt(x(point.step) - 3))" y="\##(fmt(y(point.log10Loss) - 3))" "##
                        + ##"width="6" height="6" rx="3" fill="\##(trainColor)"/>"##)
            }
        }
        if !devPoints.isEmpty {
            out.line(##"<g fill="\##(devColor)" stroke="#ffffff" stroke-width="1">"##)
            for point in devPoints {
                out.line(##"<circle class="dev" cx="\##(fmt(x(point.step)))" cy="\##(fmt(y(point.log10Loss)))" r="4"/>"##)
            }
            out.line("</g>")
        }

        // Legend, in the top right corner of the plot area (loss curves fall from the top left).
        var entries: [(label: String, isLine: Bool)] = []
        if !trainPoints.isEmpty {
            entries.append(("train (mean of \(window) step\(window == 1 ? "" : "s"))", true))
        }
        if !devPoints.isEmpty { entries.append(("dev", false)) }
        let longest = entries.map(\.label.count).max() ?? 0
        let legendWidth = 44 + 6.8 * Double(longest)
        let legendHeight = 10 + 20 * Double(entries.count)
        let legendLeft = frame.right - legendWidth - 10
        let legendTop = frame.top + 10
        out.line(##"<g class="legend">"##)
        out.line(
            ##"<rect x="\##(fmt(legendLeft))" y="\##(fmt(legendTop))" width="\##(fmt(legendWidth))" height="\##(fmt(legendHeight))" "##
                + ##"rx="3" fill="#ffffff" fill-opacity="0.9" stroke="#cccccc"/>"##)
        for (index, entry) in entries.enumerated() {
            let rowY = legendTop + 15 + 20 * Double(index)
            if entry.isLine {
                out.line(
                    ##"<line x1="\##(fmt(legendLeft + 8))" y1="\##(fmt(rowY))" x2="\##(fmt(legendLeft + 30))" y2="\##(fmt(rowY))" "##
                        + ##"stroke="\##(trainColor)" stroke-width="2"/>"##)
            } else {
                out.line(
                    ##"<rect x="\##(fmt(legendLeft + 15))" y="\##(fmt(rowY - 4))" width="8" height="8" rx="4" "##
                        + ##"fill="\##(devColor)" stroke="#ffffff" stroke-width="1"/>"##)
            }
            out.line(
                ##"<text x="\##(fmt(legendLeft + 36))" y="\##(fmt(rowY + 4))" fill="#222222">\##(Self.escapeXML(entry.label))</text>"##)
        }
        out.line("</g>")
        out.line("</svg>")
        return out.text
    }
}

// MARK: - Layout

extension LossPlot {
    static let minimumWidth = 320
    static let minimumHeight = 200
    static let marginLeft = 70.0
    static let marginRight = 24.0
    static let marginTop = 44.0
    static let marginBottom = 56.0

    struct Frame {
        var left: Double
        var top: Double
        var width: Double
        var height: Double
        var right: Double { left + width }
        var bottom: Double { top + height }
        func clampX(_ value: Double) -> Double { value.isFinite ? min(max(value, left), right) : left }
        func clampY(_ value: Double) -> Double { value.isFinite ? min(max(value, top), bottom) : bottom }
    }

    struct Document {
        var text = ""
        mutating func line(_ string: String) {
            text += string
            text += "\n"
        }
    }
}

extension LossPlot {
    static func frameRect(_ frame: Frame) -> String {
        ##"<rect class="frame" x="\##(fmt(frame.left))" y="\##(fmt(frame.top))" width="\##(fmt(frame.width))" "##
            + ##"height="\##(fmt(frame.height))" fill="none" stroke="#444444" stroke-width="1"/>"##
    }
}

extension LossPlot {
    /// `value` rounded to two decimals, without trailing zeros; never "nan" or "inf" (those become 0).
    static func fmt(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return "0" }
        let hundredths = Int64((value * 100).rounded())
        if hundredths == 0 { return "0" }
        let sign = hundredths < 0 ? "-" : ""
        let magnitude = hundredths.magnitude
        let whole = magnitude / 100
        let fraction = magnitude % 100
        if fraction == 0 { return "\(sign)\(whole)" }
        if fraction % 10 == 0 { return "\(sign)\(whole).\(fraction / 10)" }
        return "\(sign)\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

// MARK: - Data

extension LossPlot {
    /// The window a plot uses: `requested` (at least 1), or about `count / 200`.
    static func resolvedWindow(_ requested: Int?, count: Int) -> Int {
        if let requested { return max(1, requested) }
        return max(1, (count + 199) / 200)
    }

    static func log10IfValid(_ loss: Double) -> Double? {
        guard loss.isFinite, loss > 0 else { return nil }
        let value = log10(loss)
        return value.isFinite ? value : nil
    }

    /// The mean of `log10(loss)` over consecutive windows of `window` steps, each at its middle
    /// step. Non-finite and non-positive losses are skipped; a window with none left gives no
    /// point, and the last, partial window is averaged over what it has.
    static func windowedLog10Means(
        _ losses: [Float], firstStep: Int, window: Int
    ) -> [(step: Double, log10Loss: Double)] {
        let window = max(1, window)
        var result: [(step: Double, log10Loss: Double)] = []
        result.reserveCapacity(losses.count / window + 1)
        var start = 0
        while start < losses.count {
            let end = min(start + window, losses.count)
            var sum = 0.0
            var count = 0
            for loss in losses[start..<end] {
                if let value = log10IfValid(Double(loss)) {
                    sum += value
                    count += 1
                }
            }
            if count > 0 {
                let middle = Double(firstStep) + Double(start) + Double(end - start - 1) / 2
                result.append((middle, sum / Double(count)))
            }
            start = end
        }
        return result
    }
}

// MARK: - Ticks

extension LossPlot {
    /// The multiples of `spacing` in `low...high`.
    static func ticks(spacing: Double, low: Double, high: Double) -> [Double] {
        let first = (low / spacing - 1e-9).rounded(.up)
        let last = (high / spacing + 1e-9).rounded(.down)
        guard first <= last, last - first < 1000 else { return [] }
        return stride(from: first, through: last, by: 1).map { $0 * spacing }
    }

    /// The spacing of the step ticks: the smallest whole 1, 2, 2.5 or 5 × 10ᵏ that puts at most
    /// 7 ticks between `low` (rounded down to a tick) and `high`; that is 4 to 7 ticks.
    static func stepTickSpacing(low: Double, high: Double) -> Double {
        for exponent in 0...18 {
            let power = pow(10, Double(exponent))
            for mantissa in [1.0, 2, 2.5, 5] where !(mantissa == 2.5 && exponent == 0) {
                let spacing = mantissa * power
                let count = (high / spacing).rounded(.down) - (low / spacing).rounded(.down) + 1
                if count <= 7 { return spacing }
            }
        }
        return max(1, high - low)
    }

    /// Step tick labels: `0, 50k, 100k`, `1.5M`, or plain integers below 10000.
    static func stepLabels(_ ticks: [Double]) -> [String] {
        let largest = ticks.map(abs).max() ?? 0
        func plain(_ value: Double) -> String { fmt(value) }
        guard largest >= 10_000 else { return ticks.map(plain) }
        func suffixed(_ value: Double) -> String? {
            let (divisor, suffix): (Double, String) =
                abs(value) >= 1_000_000 ? (1_000_000, "M") : abs(value) >= 1000 ? (1000, "k") : (1, "")
            let scaled = value / divisor
            guard abs(scaled * 100 - (scaled * 100).rounded()) < 1e-6 else { return nil }
            return fmt(scaled) + suffix
        }
        let labels = ticks.map(suffixed)
        if labels.allSatisfy({ $0 != nil }) { return labels.map { $0! } }
        return ticks.map(plain)
    }

    /// Mantissas of nice values on a log axis, coarse to fine.
    static let logMantissaLevels: [[Double]] = [
        [1],
        [1, 3],
        [1, 2, 5],
        [1, 1.5, 2, 3, 5, 7],
        [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8],
        [1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2, 2.2, 2.4, 2.6, 2.8, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9],
    ]

    static func scaled(_ mantissa: Double, _ exponent: Int) -> Double {
        exponent >= 0 ? mantissa * pow(10, Double(exponent)) : mantissa / pow(10, Double(-exponent))
    }

    /// Loss ticks for a log axis over `log10Low...log10High`: nice loss values (from 4 to 7 of
    /// them where possible, never fewer than 3), and the axis range, widened where that was needed
    /// to fit 3.
    static func lossTicks(log10Low: Double, log10High: Double) -> (ticks: [Double], low: Double, high: Double) {
        var low = log10Low
        var high = log10High
        if !(high - low > 1e-9) {
            low -= 0.01
            high += 0.01
        }
        for _ in 0..<40 {
            if let ticks = niceLossTicks(log10Low: low, log10High: high) { return (ticks, low, high) }
            let center = (low + high) / 2
            let half = (high - low) * 0.75
            low = center - half
            high = center + half
        }
        return ([pow(10, log10Low), pow(10, log10High)], log10Low, log10High)
    }

    private static func niceLossTicks(log10Low low: Double, log10High high: Double) -> [Double]? {
        let tolerance = 1e-9
        var candidates: [[Double]] = []  // log-spaced first, coarse to fine; then linear, coarse to fine
        // Powers of ten, every `stride` decades, for very wide ranges.
        let decades = high - low
        if decades > 6 {
            let stride = Int((decades / 6).rounded(.up))
            let first = Int((low / Double(stride)).rounded(.up))
            let last = Int((high / Double(stride)).rounded(.down))
            if first <= last { candidates.append((first...last).map { scaled(1, $0 * stride) }) }
        }
        if decades <= 40 {
            let firstDecade = Int(low.rounded(.down)) - 1
            let lastDecade = Int(high.rounded(.up)) + 1
            for level in logMantissaLevels {
                var ticks: [Double] = []
                for exponent in firstDecade...lastDecade {
                    for mantissa in level {
                        let value = scaled(mantissa, exponent)
                        let position = log10(value)
                        if position >= low - tolerance && position <= high + tolerance { ticks.append(value) }
                        if ticks.count > 12 { break }
                    }
                }
                candidates.append(ticks)
            }
        }
        let lowValue = pow(10, low)
        let highValue = pow(10, high)
        var linear: [[Double]] = []
        if highValue.isFinite && lowValue > 0 {
            for exponent in (-2...15).reversed() {
                for mantissa in [5.0, 2.5, 2, 1] where !(mantissa == 2.5 && exponent < -1) {
                    let spacing = scaled(mantissa, exponent)
                    let first = (lowValue / spacing - tolerance).rounded(.up)
                    let last = (highValue / spacing + tolerance).rounded(.down)
                    let count = last - first + 1
                    guard count >= 1, count <= 8 else { continue }
                    let ticks = stride(from: first, through: last, by: 1).map { index -> Double in
                        exponent >= 0 ? index * spacing : index * mantissa / pow(10, Double(-exponent))
                    }.filter { $0 > 0 }
                    linear.append(ticks)
                }
            }
        }
        if let ticks = candidates.first(where: { (4...7).contains($0.count) }) { return ticks }
        let good = linear.filter { (4...7).contains($0.count) }
        if let best = good.min(by: { abs($0.count - 5) < abs($1.count - 5) }) { return best }
        if let ticks = (candidates + linear).first(where: { (3...8).contains($0.count) }) { return ticks }
        return nil
    }

    /// The decimals (0 to 2) `value` needs, or nil if it needs more.
    private static func decimalsNeeded(_ value: Double) -> Int? {
        for decimals in 0...2 {
            let scaled = value * pow(10, Double(decimals))
            if abs(scaled - scaled.rounded()) < 1e-6 * max(1, abs(scaled)) { return decimals }
        }
        return nil
    }

    /// Loss tick labels: `2.0, 2.2, 2.5` (as many decimals on each as the ticks need, for a
    /// narrow range),
    /// `0.1, 1, 10` for a wide one, `1.5e-3` below what two decimals can say.
    static func lossLabels(_ ticks: [Double]) -> [String] {
        guard let smallest = ticks.min(), let largest = ticks.max() else { return [] }
        let needed = ticks.map(decimalsNeeded)
        if needed.contains(where: { $0 == nil }) || smallest < 0.01 {
            return ticks.map { value in
                let exponent = Int(log10(value).rounded(.down))
                return fmt(value / pow(10, Double(exponent))) + "e\(exponent)"
            }
        }
        if largest / smallest >= 10 { return ticks.map { fmt($0) } }
        let decimals = needed.map { $0! }.max() ?? 0
        return ticks.map { value in
            let text = fmt(value)
            let have = text.firstIndex(of: ".").map { text.distance(from: $0, to: text.endIndex) - 1 } ?? 0
            if have >= decimals { return text }
            return text + (have == 0 ? "." : "") + String(repeating: "0", count: decimals - have)
        }
    }
}

// MARK: - Text

extension LossPlot {
    /// `text` with `&`, `<`, `>`, `"` and `'` escaped, and characters XML cannot hold replaced
    /// by spaces.
    static func escapeXML(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default:
                let value = scalar.value
                // XML's characters, less tab and line ends, which a one-line title should not hold.
                let allowed =
                    (0x20...0xD7FF).contains(value) || (0xE000...0xFFFD).contains(value)
                    || (0x10000...0x10FFFF).contains(value)
                if !allowed {
                    result += " "
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }

    static func truncated(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(max(1, limit - 1))) + "…"
    }
}
