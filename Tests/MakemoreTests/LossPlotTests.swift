import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

@testable import Makemore

// MARK: - Helpers

/// One element of a parsed SVG document.
private struct SVGNode {
    var name: String
    var attributes: [String: String]
    var text: String = ""

    var cssClass: String? { attributes["class"] }
    func number(_ attribute: String) -> Double? { attributes[attribute].flatMap(Double.init) }
}

private final class SVGCollector: NSObject, XMLParserDelegate {
    var nodes: [SVGNode] = []
    private var open: [Int] = []

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        nodes.append(SVGNode(name: elementName, attributes: attributeDict))
        open.append(nodes.count - 1)
    }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
    ) {
        open.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let index = open.last { nodes[index].text += string }
    }
}

/// A parsed SVG document: its elements in document order.
private struct ParsedSVG {
    var nodes: [SVGNode]

    var root: SVGNode? { nodes.first }
    func elements(_ name: String, class cssClass: String? = nil) -> [SVGNode] {
        nodes.filter { $0.name == name && (cssClass == nil || $0.cssClass == cssClass) }
    }
    var texts: [String] { elements("text").map(\.text) }
    func texts(class cssClass: String) -> [String] { elements("text", class: cssClass).map(\.text) }

    /// The plot area as (left, top, right, bottom).
    var plotArea: (left: Double, top: Double, right: Double, bottom: Double)? {
        guard let rect = elements("rect", class: "plot-area").first,
            let x = rect.number("x"), let y = rect.number("y"),
            let width = rect.number("width"), let height = rect.number("height")
        else { return nil }
        return (x, y, x + width, y + height)
    }

    /// The points of the training polyline.
    var trainPoints: [(x: Double, y: Double)] {
        guard let polyline = elements("polyline").first, let points = polyline.attributes["points"] else { return [] }
        return points.split(separator: " ").compactMap { pair in
            let parts = pair.split(separator: ",")
            guard parts.count == 2, let x = Double(parts[0]), let y = Double(parts[1]) else { return nil }
            return (x, y)
        }
    }

    var devCenters: [(x: Double, y: Double)] {
        elements("circle").compactMap { circle in
            guard let x = circle.number("cx"), let y = circle.number("cy") else { return nil }
            return (x, y)
        }
    }
}

/// `svg` parsed as XML, or nil (with a recorded issue) where it is not well formed.
private func parse(_ svg: String, sourceLocation: SourceLocation = #_sourceLocation) -> ParsedSVG? {
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = SVGCollector()
    parser.delegate = collector
    let ok = parser.parse()
    #expect(ok, "not well-formed XML: \(String(describing: parser.parserError))", sourceLocation: sourceLocation)
    return ok ? collector.nodes.isEmpty ? nil : ParsedSVG(nodes: collector.nodes) : nil
}

/// A deterministic generator for test data.
private struct TestGenerator {
    var state: UInt64
    mutating func nextUniform() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Double(state >> 11) + 0.5) / 9_007_199_254_740_992
    }
    mutating func nextNormal() -> Double {
        sqrt(-2 * log(nextUniform())) * cos(2 * Double.pi * nextUniform())
    }
}

/// A makemore-like run: the loss falls from about 3.3 towards 2.05 with per-step noise
/// (std 0.25), drops a little at the learning-rate decay at step `steps / 2`, and is evaluated
/// on the dev set every `steps / 20` steps.
private func realisticRun(steps: Int = 200_000) -> (training: [Float], dev: [(step: Int, loss: Double)]) {
    var generator = TestGenerator(state: 7)
    func mean(_ step: Double) -> Double {
        2.12 + 1.2 * exp(-step / Double(steps / 33)) - (step >= Double(steps / 2) ? 0.06 : 0)
    }
    let training = (1...steps).map { Float(max(0.3, mean(Double($0)) + 0.25 * generator.nextNormal())) }
    let every = max(1, steps / 20)
    let dev = stride(from: every, through: steps, by: every).map { (step: $0, loss: mean(Double($0)) + 0.03) }
    return (training, dev)
}

private func expectInside(
    _ points: [(x: Double, y: Double)], _ area: (left: Double, top: Double, right: Double, bottom: Double),
    sourceLocation: SourceLocation = #_sourceLocation
) {
    for point in points {
        #expect(
            point.x >= area.left && point.x <= area.right && point.y >= area.top && point.y <= area.bottom,
            "(\(point.x), \(point.y)) outside \(area)", sourceLocation: sourceLocation)
    }
}

// MARK: - Tests

@Suite struct LossPlotTests {
    @Test func documentIsWellFormedSVGWithEscapedTitle() throws {
        let title = #"MLP <h=200> & "batch" 'norm'"#
        let run = realisticRun(steps: 5000)
        let svg = LossPlot(title: title).svg(training: run.training, dev: run.dev)
        let document = try #require(parse(svg))
        let root = try #require(document.root)
        #expect(root.name == "svg")
        #expect(root.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        #expect(root.attributes["width"] == "800")
        #expect(root.attributes["height"] == "450")
        #expect(root.attributes["font-family"] == "sans-serif")
        #expect(document.elements("rect").first?.attributes["fill"] == "#ffffff")
        #expect(document.texts(class: "title") == [title])
        #expect(svg.contains("MLP &lt;h=200&gt; &amp; &quot;batch&quot; &apos;norm&apos;"))
        #expect(!svg.contains("<h=200>"))
    }

    @Test func customSize() throws {
        let svg = LossPlot(title: "t", width: 640, height: 360).svg(training: [3, 2.5, 2.2], dev: [])
        let document = try #require(parse(svg))
        #expect(document.root?.attributes["width"] == "640")
        #expect(document.root?.attributes["height"] == "360")
        let area = try #require(document.plotArea)
        #expect(area.right <= 640 && area.bottom <= 360)
    }

    @Test func axisLabelsAndLegend() throws {
        let run = realisticRun(steps: 1000)
        let svg = LossPlot(title: "run").svg(training: run.training, dev: run.dev, window: 100)
        let document = try #require(parse(svg))
        let texts = document.texts
        #expect(texts.contains("step"))
        #expect(texts.contains("loss (log scale)"))
        #expect(texts.contains("train (mean of 100 steps)"))
        #expect(texts.contains("dev"))
    }

    @Test func legendListsOnlyWhatIsDrawn() throws {
        let svg = LossPlot(title: "run").svg(training: [3, 2.9, 2.8], dev: [])
        let texts = try #require(parse(svg)).texts
        #expect(texts.contains("train (mean of 1 step)"))
        #expect(!texts.contains("dev"))
    }

    @Test(arguments: [(100, 10), (300, 4), (1, 1000), (1000, 1), (5000, 1)])
    func polylineHasOnePointPerWindow(window: Int, points: Int) throws {
        let run = realisticRun(steps: 1000)
        let svg = LossPlot(title: "run").svg(training: run.training, dev: run.dev, window: window)
        let document = try #require(parse(svg))
        #expect(document.elements("polyline").count == 1)
        #expect(document.trainPoints.count == points)
        #expect(document.texts.contains("train (mean of \(window) step\(window == 1 ? "" : "s"))"))
    }

    @Test func automaticWindowDrawsAbout200Points() throws {
        for (steps, window, points) in [(1000, 5, 200), (50, 1, 50), (200_000, 1000, 200), (1001, 6, 167)] {
            let run = realisticRun(steps: steps)
            let svg = LossPlot(title: "run").svg(training: run.training, dev: run.dev)
            let document = try #require(parse(svg))
            #expect(document.trainPoints.count == points, "\(steps) steps")
            #expect(document.texts.contains("train (mean of \(window) step\(window == 1 ? "" : "s"))"), "\(steps) steps")
        }
        #expect(LossPlot.resolvedWindow(0, count: 10) == 1)
        #expect(LossPlot.resolvedWindow(-3, count: 10) == 1)
    }

    @Test func windowMeansAverageLog10AndKeepThePartialWindow() {
        let means = LossPlot.windowedLog10Means([1, 1, 1, 10], firstStep: 1, window: 3)
        #expect(means.count == 2)
        #expect(means.map(\.step) == [2, 4])
        #expect(means.map(\.log10Loss) == [0, 1])

        let skipping = LossPlot.windowedLog10Means(
            [.nan, 10, 100, -1, 0, .infinity, 1000], firstStep: 0, window: 3)
        #expect(skipping.count == 2)
        #expect(abs(skipping[0].log10Loss - 1.5) < 1e-9)
        #expect(skipping[0].step == 1)
        #expect(abs(skipping[1].log10Loss - 3) < 1e-9)
        #expect(skipping[1].step == 6)
    }

    @Test func oneCirclePerFiniteDevPoint() throws {
        let dev: [(step: Int, loss: Double)] = [
            (100, 2.5), (200, .nan), (300, .infinity), (400, 2.2), (500, 0), (600, -1), (700, 2.1),
        ]
        let svg = LossPlot(title: "run").svg(training: realisticRun(steps: 700).training, dev: dev)
        let document = try #require(parse(svg))
        let centers = document.devCenters
        #expect(centers.count == 3)
        #expect(document.elements("circle", class: "dev").count == 3)
        #expect(zip(centers, centers.dropFirst()).allSatisfy { $0.x < $1.x })
        // Lower loss is drawn lower, that is, at a larger y.
        #expect(centers.count == 3 && centers[0].y < centers[1].y && centers[1].y < centers[2].y)

        let none = try #require(parse(LossPlot(title: "run").svg(training: [3, 2], dev: [])))
        #expect(none.elements("circle").isEmpty)
    }

    @Test func devOnly() throws {
        let svg = LossPlot(title: "run").svg(training: [], dev: [(1000, 2.4), (2000, 2.3)])
        let document = try #require(parse(svg))
        #expect(document.elements("polyline").isEmpty)
        #expect(document.devCenters.count == 2)
        #expect(!document.texts.contains("no data yet"))
    }

    @Test func emptyRunSaysNoDataYet() throws {
        for svg in [
            LossPlot(title: "empty").svg(training: [], dev: []),
            LossPlot(title: "empty").svg(training: [.nan, .infinity, 0, -2], dev: [(10, .nan)]),
        ] {
            let document = try #require(parse(svg))
            #expect(document.root?.name == "svg")
            #expect(document.texts.contains("no data yet"))
            #expect(document.texts.contains("empty"))
            #expect(document.elements("polyline").isEmpty)
            #expect(document.elements("circle").isEmpty)
        }
        let run = realisticRun(steps: 100)
        #expect(!LossPlot(title: "x").svg(training: run.training, dev: []).contains("no data yet"))
    }

    @Test func nanInfinityAndNonPositiveLossesAreSkipped() throws {
        var training = realisticRun(steps: 1000).training
        for index in stride(from: 0, to: training.count, by: 7) { training[index] = .nan }
        training[3] = .infinity
        training[4] = -.infinity
        training[5] = 0
        training[6] = -1.5
        for index in 500..<600 { training[index] = .nan }  // one whole window of nothing
        let dev: [(step: Int, loss: Double)] = [(100, .nan), (200, 2.4), (300, -.infinity), (400, .infinity)]
        let svg = LossPlot(title: "run").svg(training: training, dev: dev, window: 100)
        let lowered = svg.lowercased()
        #expect(!lowered.contains("nan"))
        #expect(!lowered.contains("inf"))
        let document = try #require(parse(svg))
        #expect(document.trainPoints.count == 9)
        #expect(document.devCenters.count == 1)
        let area = try #require(document.plotArea)
        expectInside(document.trainPoints, area)
        expectInside(document.devCenters, area)
    }

    @Test func constantLossIsPaddedToAVisibleRange() throws {
        let svg = LossPlot(title: "flat").svg(
            training: Array(repeating: 2, count: 500), dev: [(250, 2)], window: 50)
        let document = try #require(parse(svg))
        let area = try #require(document.plotArea)
        let points = document.trainPoints
        #expect(points.count == 10)
        let ys = Set(points.map(\.y))
        #expect(ys.count == 1)
        let y = try #require(ys.first)
        #expect(y > area.top + 10 && y < area.bottom - 10)
        #expect(document.devCenters.first?.y == y)
        let ticks = document.texts(class: "ytick").compactMap(Double.init)
        #expect(ticks.count >= 3)
        #expect((ticks.min() ?? 3) < 2 && (ticks.max() ?? 0) > 2)
    }

    @Test func singlePoint() throws {
        let svg = LossPlot(title: "one").svg(training: [2.5], dev: [])
        let document = try #require(parse(svg))
        let area = try #require(document.plotArea)
        #expect(document.trainPoints.count == 1)
        expectInside(document.trainPoints, area)
        #expect(document.elements("rect", class: "train-marker").count == 1)
        #expect(document.texts(class: "ytick").count >= 3)
        #expect(document.texts(class: "xtick").count >= 2)
    }

    @Test func ticksFor200000Steps() throws {
        let run = realisticRun()
        let svg = LossPlot(title: "run").svg(training: run.training, dev: run.dev)
        let document = try #require(parse(svg))
        let xLabels = document.texts(class: "xtick")
        #expect(xLabels.contains("100k"))
        #expect(xLabels.first == "0")
        #expect(xLabels.contains("200k"))
        #expect((4...8).contains(xLabels.count), "\(xLabels)")
        let yTicks = document.elements("text", class: "ytick")
        let values = yTicks.compactMap { Double($0.text) }
        #expect(values.count == yTicks.count)
        #expect(values.count >= 3, "\(values)")
        #expect(values.allSatisfy { $0 >= 1.9 && $0 <= 3.5 }, "\(values)")
        // Ascending values, drawn from the bottom up.
        let ys = yTicks.compactMap { $0.number("y") }
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 < $1 })
        #expect(zip(ys, ys.dropFirst()).allSatisfy { $0 > $1 })
        // A log axis: the gap between 2.0 and 2.2 is wider than the one between 2.8 and 3.0.
        if let y20 = yTicks.first(where: { $0.text == "2.0" })?.number("y"),
            let y22 = yTicks.first(where: { $0.text == "2.2" })?.number("y"),
            let y28 = yTicks.first(where: { $0.text == "2.8" })?.number("y"),
            let y30 = yTicks.first(where: { $0.text == "3.0" })?.number("y")
        {
            #expect(y20 - y22 > y28 - y30 + 1)
        } else {
            Issue.record("expected ticks 2.0, 2.2, 2.8 and 3.0, got \(values)")
        }
    }

    @Test func tickLabelFormats() {
        #expect(LossPlot.stepLabels([0, 50_000, 100_000, 150_000, 200_000]) == ["0", "50k", "100k", "150k", "200k"])
        #expect(LossPlot.stepLabels([0, 500_000, 1_000_000, 1_500_000]) == ["0", "500k", "1M", "1.5M"])
        #expect(LossPlot.stepLabels([0, 200, 400]) == ["0", "200", "400"])
        #expect(LossPlot.lossLabels([2, 2.2, 2.5, 3]) == ["2.0", "2.2", "2.5", "3.0"])
        #expect(LossPlot.lossLabels([1.96, 2, 2.04]) == ["1.96", "2.00", "2.04"])
        #expect(LossPlot.lossLabels([0.1, 1, 10]) == ["0.1", "1", "10"])
        let spacing = LossPlot.stepTickSpacing(low: 1, high: 200_000)
        #expect(spacing == 50_000)
        #expect(LossPlot.stepTickSpacing(low: 1, high: 1000) == 200)
        let ticks = LossPlot.lossTicks(log10Low: log10(1.95), log10High: log10(3.4)).ticks
        #expect((4...7).contains(ticks.count), "\(ticks)")
    }

    @Test func dataStaysInsideThePlotArea() throws {
        var run = realisticRun(steps: 20_000)
        run.dev.append((step: 60_000, loss: 1.5))  // beyond the last training step, below every other loss
        run.dev.append((step: 500, loss: 9))  // before the first training step, above every other loss
        let svg = LossPlot(title: "run").svg(training: run.training, firstStep: 20_001, dev: run.dev, window: 250)
        let document = try #require(parse(svg))
        let area = try #require(document.plotArea)
        #expect(document.trainPoints.count == 80)
        expectInside(document.trainPoints, area)
        expectInside(document.devCenters, area)
        let centers = document.devCenters
        #expect(centers.count == run.dev.count)
        // The axis covers the dev points outside the training steps instead of piling them on its ends.
        let first = try #require(centers.last)
        let last = try #require(centers.dropLast().last)
        let trainStart = try #require(document.trainPoints.first)
        let trainEnd = try #require(document.trainPoints.last)
        #expect(first.x > area.left && first.x < trainStart.x - 100)
        #expect(last.x < area.right && last.x > trainEnd.x + 100)
        #expect(first.y > area.top && last.y < area.bottom)
        let width = try #require(document.root?.number("width"))
        let height = try #require(document.root?.number("height"))
        #expect(area.left >= 40 && area.top >= 25 && width - area.right >= 10 && height - area.bottom >= 35)
        for label in document.elements("text", class: "xtick") + document.elements("text", class: "ytick") {
            let x = try #require(label.number("x"))
            let y = try #require(label.number("y"))
            #expect(x > 0 && x < width && y > 0 && y < height)
        }
    }

    @Test func numbersHaveAtMostTwoDecimals() throws {
        let run = realisticRun(steps: 3333)
        let wide = (0..<5000).map { Float(30 * exp(-Double($0) / 500) + 0.8) }
        for svg in [
            LossPlot(title: "run", width: 777, height: 333).svg(training: run.training, firstStep: 7, dev: run.dev),
            LossPlot(title: "wide").svg(training: wide, dev: [(2500, 0.9)]),
        ] {
            let document = try #require(parse(svg))
            let threeDecimals = try Regex(#"[0-9]\.[0-9]{3}"#)
            #expect(!svg.contains(threeDecimals))
            // No exponent notation at ordinary loss values.
            let labels = document.texts(class: "xtick") + document.texts(class: "ytick")
            #expect(labels.count >= 7)
            #expect(labels.allSatisfy { !$0.lowercased().contains("e") }, "\(labels)")
        }
    }

    @Test func randomInputsGiveWellFormedDocuments() throws {
        var generator = TestGenerator(state: 99)
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -1, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        for round in 0..<60 {
            let count = Int(generator.nextUniform() * (round < 30 ? 40 : 5000))
            let scale = pow(10, generator.nextUniform() * 6 - 3)
            let training = (0..<count).map { _ -> Float in
                generator.nextUniform() < 0.05
                    ? specials[Int(generator.nextUniform() * Double(specials.count))]
                    : Float(scale * exp(generator.nextNormal()))
            }
            let dev = (0..<Int(generator.nextUniform() * 6)).map { _ in
                (step: Int(generator.nextUniform() * 20_000) - 1000,
                 loss: generator.nextUniform() < 0.2 ? Double.nan : scale * exp(generator.nextNormal()))
            }
            let window = generator.nextUniform() < 0.5 ? nil : Int(generator.nextUniform() * 300) - 5
            let firstStep = Int(generator.nextUniform() * 3000) - 100
            let svg = LossPlot(title: "fuzz \(round)").svg(training: training, firstStep: firstStep, dev: dev, window: window)
            let document = try #require(parse(svg), "round \(round)")
            let lowered = svg.lowercased()
            #expect(!lowered.contains("nan") && !lowered.contains("inf"), "round \(round)")
            #expect(!svg.contains(try Regex(#"[0-9]\.[0-9]{3}"#)), "round \(round)")
            let finiteDev = dev.filter { $0.loss.isFinite && $0.loss > 0 }.count
            #expect(document.devCenters.count == finiteDev, "round \(round)")
            if document.texts.contains("no data yet") {
                #expect(document.trainPoints.isEmpty && finiteDev == 0, "round \(round)")
            } else {
                let area = try #require(document.plotArea)
                expectInside(document.trainPoints + document.devCenters, area)
                #expect(document.texts(class: "ytick").count >= 3, "round \(round)")
                #expect(document.texts(class: "xtick").count >= 2, "round \(round)")
            }
        }
    }

    @Test func escapeXML() {
        #expect(LossPlot.escapeXML(#"a & b < c > d "e" 'f'"#) == "a &amp; b &lt; c &gt; d &quot;e&quot; &apos;f&apos;")
        #expect(LossPlot.escapeXML("line\nbreak\u{0}") == "line break ")
    }
}
