import Foundation

/// The diagnostics of a run as one self-contained HTML page (`report.html`): inline SVG plots and
/// CSS, no script, nothing fetched, so it opens in any browser, offline.
///
/// Sections, each a `<section id=...>`: `header` (model, configuration, data, splits, final
/// losses), `warnings` (one line per problem, in words), `loss` (training and dev loss, a log
/// scale by a checkbox, and the learning rate), `activations` (each nonlinearity's output at the
/// end and along training, mean, std, saturated share), `activation-gradients` (the gradient
/// arriving at each), `weight-gradients` (each weight matrix's gradient, grad:data ratio),
/// `update-ratios` (`log10(std(update) / std(data))` over training, the guide at -3) and
/// `batchnorm` (running against batch statistics). Every plot is an `<svg class="plot">` whose
/// `data-points` attribute counts the points it draws.
package struct DiagnosticsReport {
    /// The page's title.
    package var title: String
    /// The header's rows: (what, value).
    package var header: [(String, String)]
    /// The run's log (training loss and learning rate of every step, dev losses).
    package var log: TrainingLog
    /// The diagnostics snapshots, in the order of their steps.
    package var snapshots: [DiagnosticsSnapshot]

    /// A report titled `title` with `header`, `log` and `snapshots`.
    package init(title: String, header: [(String, String)], log: TrainingLog, snapshots: [DiagnosticsSnapshot]) {
        self.title = title
        self.header = header
        self.log = log
        self.snapshots = snapshots
    }

    /// The page.
    package func html() -> String {
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body { font-family: sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
            h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; }
            table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
            td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; } th { background: #f4f4f4; }
            td:first-child, th:first-child, #header td { text-align: left; }
            .plots { display: flex; flex-wrap: wrap; gap: 12px; }
            .warning { color: #a33; } .ok { color: #383; }
            #logscale:checked ~ .linear-scale { display: none; }
            #logscale:not(:checked) ~ .log-scale { display: none; }
            p.note { font-size: 13px; color: #555; max-width: 900px; }
            </style></head><body>
            <h1>\(escape(title))</h1>

            """
        page += headerSection() + warningsSection() + lossSection() + activationsSection() + activationGradientsSection()
            + weightGradientsSection() + updateRatiosSection() + batchNormSection()
        page += "</body></html>\n"
        return page
    }

    // MARK: Sections

    private func headerSection() -> String {
        var s = "<section id=\"header\"><h2>Run</h2><table>\n"
        for (key, value) in header { s += "<tr><th>\(escape(key))</th><td>\(escape(value))</td></tr>\n" }
        if let first = snapshots.first, let last = snapshots.last {
            s += "<tr><th>diagnostics</th><td>\(snapshots.count) snapshots, after steps \(first.step) to \(last.step)</td></tr>\n"
        }
        return s + "</table></section>\n"
    }

    private func warningsSection() -> String {
        let warnings = Diagnostics.warnings(snapshots)
        var s = "<section id=\"warnings\"><h2>Warnings</h2>\n"
        if warnings.isEmpty {
            s += "<p class=\"ok\">Nothing to warn about: no saturated or dead layer, update ratios near the guide of -3.</p>\n"
        } else {
            s += "<ul>\n" + warnings.map { "<li class=\"warning\">\(escape($0))</li>\n" }.joined() + "</ul>\n"
        }
        return s + "</section>\n"
    }

    private func lossSection() -> String {
        let window = LossPlot.resolvedWindow(nil, count: log.losses.count)
        let train = LossPlot.windowedLog10Means(log.losses, firstStep: log.firstStep, window: window)
            .map { (x: $0.step, y: pow(10, $0.log10Loss)) }
        let dev = log.devLosses.filter { $0.loss.isFinite }.map { (x: Double($0.step), y: $0.loss) }
        var s = "<section id=\"loss\"><h2>Loss and learning rate</h2>\n"
        s += "<p class=\"note\">The training loss is the mean over windows of \(window) steps (of log10 loss, as the lecture plots it); the dev loss is measured at each evaluation.</p>\n"
        s += "<input type=\"checkbox\" id=\"logscale\"><label for=\"logscale\"> log scale</label>\n"
        let series = [Series(name: "train", points: train, color: 0), Series(name: "dev", points: dev, color: 1, dots: true)]
        s += "<div class=\"linear-scale\">" + plot(series, xLabel: "step", yLabel: "loss") + "</div>\n"
        s += "<div class=\"log-scale\">" + plot(series, xLabel: "step", yLabel: "loss (log scale)", logY: true) + "</div>\n"
        let stride = Swift.max(1, log.learningRates.count / 400)
        let rates = stride == 0 ? [] : Swift.stride(from: 0, to: log.learningRates.count, by: stride).map {
            (x: Double(log.firstStep + $0), y: Double(log.learningRates[$0]))
        }
        s += plot([Series(name: "learning rate", points: rates, color: 2)], xLabel: "step", yLabel: "learning rate", height: 220)
        return s + "</section>\n"
    }

    /// Up to five snapshots spread over the run, the last included.
    private var alongTraining: [DiagnosticsSnapshot] {
        guard snapshots.count > 5 else { return snapshots }
        return (0..<5).map { snapshots[$0 * (snapshots.count - 1) / 4] }
    }

    private func activationsSection() -> String {
        var s = "<section id=\"activations\"><h2>Activations</h2>\n"
        guard let last = snapshots.last, !last.nonlinearities.isEmpty else {
            return s + "<p>This model has no nonlinearity (or no snapshot was taken).</p></section>\n"
        }
        s += "<p class=\"note\">The distribution of each nonlinearity's output on a batch after step \(last.step) (the lecture's figure), then each along training. Saturated: |t| &gt; 0.97 for tanh, outside 0.03…0.97 for a sigmoid gate; GELU does not saturate. Dead units are flat for every example of the batch.</p>\n"
        s += histogramOverlay(last.nonlinearities.map { ($0.name, $0.output.histogram) }, xLabel: "output")
        s += "<table><tr><th>layer</th><th>kind</th><th>mean</th><th>std</th><th>saturated</th><th>dead units</th></tr>\n"
        for n in last.nonlinearities {
            let saturated = n.kind.saturates ? String(format: "%.2f%%", 100 * n.saturatedShare) : "–"
            s += "<tr><td>\(escape(n.name))</td><td>\(n.kind.rawValue)</td><td>\(fmt(n.output.moments.mean))</td>"
                + "<td>\(fmt(n.output.moments.std))</td><td>\(saturated)</td><td>\(n.deadUnits) of \(n.units)</td></tr>\n"
        }
        s += "</table>\n<div class=\"plots\">\n"
        for (index, n) in last.nonlinearities.enumerated() {
            let series = alongTraining.compactMap { snapshot -> (String, Histogram)? in
                guard snapshot.nonlinearities.indices.contains(index) else { return nil }
                let m = snapshot.nonlinearities[index]
                let saturated = m.kind.saturates ? String(format: ", sat %.1f%%", 100 * m.saturatedShare) : ""
                return ("step \(snapshot.step)\(saturated)", m.output.histogram)
            }
            s += histogramOverlay(series, xLabel: "\(n.name) output", width: 360, height: 240, sequential: true)
        }
        return s + "</div></section>\n"
    }

    private func activationGradientsSection() -> String {
        var s = "<section id=\"activation-gradients\"><h2>Gradients arriving at the activations</h2>\n"
        guard let last = snapshots.last, !last.nonlinearities.isEmpty else {
            return s + "<p>This model has no nonlinearity (or no snapshot was taken).</p></section>\n"
        }
        s += "<p class=\"note\">The gradient of the loss with respect to each nonlinearity's output, after step \(last.step): layers whose gradients differ much in spread learn at different speeds.</p>\n"
        s += histogramOverlay(last.nonlinearities.map { ($0.name, $0.gradient.histogram) }, xLabel: "gradient")
        s += "<table><tr><th>layer</th><th>mean</th><th>std</th></tr>\n"
        for n in last.nonlinearities {
            s += "<tr><td>\(escape(n.name))</td><td>\(fmt(n.gradient.moments.mean))</td><td>\(fmt(n.gradient.moments.std))</td></tr>\n"
        }
        return s + "</table></section>\n"
    }

    private func weightGradientsSection() -> String {
        var s = "<section id=\"weight-gradients\"><h2>Weight gradients</h2>\n"
        guard let last = snapshots.last, !last.weights.isEmpty else {
            return s + "<p>No weight matrix (or no snapshot was taken).</p></section>\n"
        }
        s += "<p class=\"note\">The gradient of each weight matrix after step \(last.step); grad:data is std(gradient) / std(weight).</p>\n"
        s += histogramOverlay(last.weights.map { ($0.name, $0.gradient.histogram) }, xLabel: "gradient")
        s += "<table><tr><th>weight</th><th>shape</th><th>mean</th><th>std</th><th>grad:data</th><th>log10 update:data</th></tr>\n"
        for w in last.weights {
            s += "<tr><td>\(escape(w.name))</td><td>\(w.shape.map(String.init).joined(separator: "×"))</td>"
                + "<td>\(fmt(w.gradient.moments.mean))</td><td>\(fmt(w.gradient.moments.std))</td><td>\(fmt(w.gradientToData))</td>"
                + "<td>\(w.updateToData.map { String(format: "%.2f", $0) } ?? "–")</td></tr>\n"
        }
        return s + "</table></section>\n"
    }

    private func updateRatiosSection() -> String {
        var s = "<section id=\"update-ratios\"><h2>Update:data ratio</h2>\n"
        guard let last = snapshots.last, !last.weights.isEmpty else {
            return s + "<p>No weight matrix (or no snapshot was taken).</p></section>\n"
        }
        s += "<p class=\"note\">log10(std(update) / std(weight)) of each weight matrix at each snapshot (the update of SGD is lr · grad). The lecture's guide: about -3; far above, the learning rate is too large; far below, too small.</p>\n"
        let series = last.weights.indices.map { index in
            Series(
                name: last.weights[index].name,
                points: snapshots.compactMap { snapshot in
                    guard snapshot.weights.indices.contains(index), let r = snapshot.weights[index].updateToData, r.isFinite else { return nil }
                    return (x: Double(snapshot.step), y: r)
                }, color: index)
        }
        s += plot(series, xLabel: "step", yLabel: "log10 update:data", guide: -3)
        return s + "</section>\n"
    }

    private func batchNormSection() -> String {
        var s = "<section id=\"batchnorm\"><h2>Batch-norm statistics</h2>\n"
        guard let last = snapshots.last, !last.batchNorms.isEmpty else {
            return s + "<p>This model has no batch-norm.</p></section>\n"
        }
        s += "<p class=\"note\">Each feature's running mean and variance (x) against the batch's (y) after step \(last.step); on the diagonal they agree.</p>\n<div class=\"plots\">\n"
        for (index, layer) in last.batchNorms.enumerated() {
            let means = zip(layer.runningMean, layer.batchMean).map { (x: $0, y: $1) }
            let variances = zip(layer.runningVariance, layer.batchVariance).map { (x: $0, y: $1) }
            s += plot([Series(name: "mean", points: means, color: index, dots: true)], xLabel: "\(layer.name) running mean",
                      yLabel: "batch mean", width: 360, height: 300, diagonal: true)
            s += plot([Series(name: "variance", points: variances, color: index, dots: true)], xLabel: "\(layer.name) running variance",
                      yLabel: "batch variance", width: 360, height: 300, diagonal: true)
        }
        return s + "</div></section>\n"
    }

    // MARK: Plots

    private struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var color: Int
        var dots = false
    }

    private static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    private static let sequential = ["#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"]

    /// Histograms as lines of density (the lecture's `plt.plot(hx, hy)`), one per series.
    private func histogramOverlay(
        _ histograms: [(String, Histogram)], xLabel: String, width: Int = 760, height: Int = 300, sequential: Bool = false
    ) -> String {
        let series = histograms.enumerated().map { index, item in
            let (name, h) = item
            let total = Double(Swift.max(1, h.total - h.nonFinite)), binWidth = (h.upper - h.lower) / Double(h.counts.count)
            let edges = h.edges
            let points = h.counts.indices.map { (x: (edges[$0] + edges[$0 + 1]) / 2, y: Double(h.counts[$0]) / (total * binWidth)) }
            return Series(name: name, points: points, color: sequential ? -1 - (index + 5 - histograms.count) : index)
        }
        return plot(series, xLabel: xLabel, yLabel: "density", width: width, height: height)
    }

    /// A line (or dot) plot of `series` in inline SVG.
    private func plot(
        _ series: [Series], xLabel: String, yLabel: String, width: Int = 760, height: Int = 300, logY: Bool = false,
        guide: Double? = nil, diagonal: Bool = false
    ) -> String {
        let transform: (Double) -> Double = logY ? { log10($0) } : { $0 }
        let drawn = series.map { s in
            Series(name: s.name, points: s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) }
                .map { (x: $0.x, y: transform($0.y)) }, color: s.color, dots: s.dots)
        }
        let count = drawn.reduce(0) { $0 + $1.points.count }
        let (left, right, top, bottom) = (64.0, 16.0, 12.0, 44.0)
        let w = Double(width), h = Double(height), pw = w - left - right, ph = h - top - bottom
        var svg = "<svg class=\"plot\" data-points=\"\(count)\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" "
            + "viewBox=\"0 0 \(width) \(height)\" font-size=\"11\" font-family=\"sans-serif\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(fmt2(pw))\" height=\"\(fmt2(ph))\" fill=\"#fff\" stroke=\"#ccc\"/>"
        let all = drawn.flatMap(\.points)
        guard !all.isEmpty else {
            return svg + "<text x=\"\(fmt2(w / 2))\" y=\"\(fmt2(h / 2))\" text-anchor=\"middle\" fill=\"#999\">no data</text></svg>\n"
        }
        var (x0, x1) = (all.map(\.x).min()!, all.map(\.x).max()!)
        var ys = all.map(\.y)
        if let guide { ys.append(guide) }
        var (y0, y1) = (ys.min()!, ys.max()!)
        if diagonal { (x0, x1, y0, y1) = (Swift.min(x0, y0), Swift.max(x1, y1), Swift.min(x0, y0), Swift.max(x1, y1)) }
        if x1 <= x0 { (x0, x1) = (x0 - 0.5, x1 + 0.5) }
        if y1 <= y0 {
            let half = y0 == 0 ? 0.5 : 0.25 * abs(y0)  // a flat series (a constant learning rate) in the middle
            (y0, y1) = (y0 - half, y1 + half)
        }
        let padding = 0.04 * (y1 - y0)
        (y0, y1) = (y0 - padding, y1 + padding)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { top + ph - (y - y0) / (y1 - y0) * ph }
        for t in ticks(x0, x1) {
            svg += "<line x1=\"\(fmt2(px(t)))\" y1=\"\(fmt2(top))\" x2=\"\(fmt2(px(t)))\" y2=\"\(fmt2(top + ph))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(fmt2(px(t)))\" y=\"\(fmt2(top + ph + 14))\" text-anchor=\"middle\">\(tickLabel(t))</text>"
        }
        for t in ticks(y0, y1) {
            svg += "<line x1=\"\(left)\" y1=\"\(fmt2(py(t)))\" x2=\"\(fmt2(left + pw))\" y2=\"\(fmt2(py(t)))\" stroke=\"#eee\"/>"
            let label = logY ? tickLabel(pow(10, t)) : tickLabel(t)
            svg += "<text x=\"\(fmt2(left - 4))\" y=\"\(fmt2(py(t) + 4))\" text-anchor=\"end\">\(label)</text>"
        }
        svg += "<text x=\"\(fmt2(left + pw / 2))\" y=\"\(fmt2(h - 6))\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        svg += "<text transform=\"translate(12 \(fmt2(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>"
        if let guide {
            svg += "<line class=\"guide\" x1=\"\(left)\" y1=\"\(fmt2(py(guide)))\" x2=\"\(fmt2(left + pw))\" y2=\"\(fmt2(py(guide)))\" "
                + "stroke=\"#000\" stroke-dasharray=\"6 4\"/>"
        }
        if diagonal {
            svg += "<line x1=\"\(fmt2(px(x0)))\" y1=\"\(fmt2(py(x0)))\" x2=\"\(fmt2(px(x1)))\" y2=\"\(fmt2(py(x1)))\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>"
        }
        for s in drawn where !s.points.isEmpty {
            let color = s.color >= 0
                ? DiagnosticsReport.palette[s.color % DiagnosticsReport.palette.count]
                : DiagnosticsReport.sequential[Swift.max(0, Swift.min(4, -1 - s.color))]
            if s.dots {
                for p in s.points {
                    svg += "<circle cx=\"\(fmt2(px(p.x)))\" cy=\"\(fmt2(py(p.y)))\" r=\"2.5\" fill=\"\(color)\" fill-opacity=\"0.7\"/>"
                }
            } else {
                let coordinates = s.points.map { "\(fmt2(px($0.x))),\(fmt2(py($0.y)))" }.joined(separator: " ")
                svg += "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"
            }
        }
        // Legend, top right.
        for (index, s) in drawn.enumerated() {
            let color = s.color >= 0
                ? DiagnosticsReport.palette[s.color % DiagnosticsReport.palette.count]
                : DiagnosticsReport.sequential[Swift.max(0, Swift.min(4, -1 - s.color))]
            let y = top + 14 + Double(index) * 14
            svg += "<rect x=\"\(fmt2(left + pw - 190))\" y=\"\(fmt2(y - 8))\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(fmt2(left + pw - 176))\" y=\"\(fmt2(y + 1))\">\(escape(s.name))</text>"
        }
        return svg + "</svg>\n"
    }

    /// About five round tick values between `a` and `b`.
    private func ticks(_ a: Double, _ b: Double) -> [Double] {
        let raw = (b - a) / 5, magnitude = pow(10, (log10(raw)).rounded(.down)), residual = raw / magnitude
        let step = magnitude * (residual > 5 ? 10 : residual > 2 ? 5 : residual > 1 ? 2 : 1)
        guard step.isFinite, step > 0 else { return [] }
        return Swift.stride(from: (a / step).rounded(.up) * step, through: b, by: step).map { abs($0) < step * 1e-9 ? 0 : $0 }
    }

    private func tickLabel(_ value: Double) -> String {
        let a = abs(value)
        if a >= 10_000 { return String(format: "%.0fk", value / 1000) }
        if a == 0 || (a >= 0.01 && a < 10_000) { return String(format: "%g", (value * 1e4).rounded() / 1e4) }
        return String(format: "%.0e", value)
    }

    private func fmt(_ value: Double) -> String { String(format: "%.4g", value) }
    private func fmt2(_ value: Double) -> String { String(format: "%.2f", value) }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
