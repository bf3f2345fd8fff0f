import Dispatch

/// Picks, while training runs, the number of threads that makes steps fastest.
///
/// Whether two threads beat one on a small model depends on the machine, and on a shared one
/// it changes while a run goes on (when the two processors it is given turn out to share one
/// core, two threads are slower). The step's result does not depend on its number of threads,
/// so the choice can be revised at any step: at the start of every period, the tuner runs a few
/// steps with each candidate, times them, and keeps the fastest until the next period.
package struct ThreadTuner: Sendable {
    /// The thread counts to choose from.
    package let candidates: [Int]
    /// Steps timed with each candidate at the start of a period.
    let probeSteps: Int
    /// Steps from one choice to the next.
    let period: Int
    /// The current choice.
    private(set) var choice: Int
    /// Steps run with each candidate so far, probes included.
    package private(set) var stepsByCandidate: [Int]

    private var stepInPeriod = 0
    private var probeStart: UInt64 = 0
    private var probeSeconds: [Double]

    /// A tuner that probes each candidate for `probeSteps` steps every `period` steps. A period
    /// too short for that probes each for `period / candidates` steps; a period shorter than one
    /// step per candidate keeps the last candidate without probing.
    package init(candidates: [Int], probeSteps: Int = 200, period: Int = 10_000) {
        precondition(!candidates.isEmpty, "a tuner needs a candidate")
        let period = Swift.max(1, period)
        let fits = period >= candidates.count
        self.candidates = fits ? candidates : [candidates.last!]
        self.probeSteps = fits ? Swift.max(1, Swift.min(probeSteps, period / candidates.count)) : 1
        self.period = period
        choice = candidates.last!
        stepsByCandidate = Array(repeating: 0, count: self.candidates.count)
        probeSeconds = Array(repeating: 0, count: self.candidates.count)
    }

    /// The number of threads for the next step. Call once before each step; `restart` starts a
    /// new period (after an evaluation, say, which would otherwise land inside a probe).
    mutating func threadsForNextStep(restart: Bool = false) -> Int {
        if restart { stepInPeriod = 0 }
        let probing = candidates.count * probeSteps
        if candidates.count > 1 && stepInPeriod <= probing && stepInPeriod % probeSteps == 0 {
            let now = DispatchTime.now().uptimeNanoseconds
            let finished = stepInPeriod / probeSteps - 1
            if finished >= 0 { probeSeconds[finished] = Double(now - probeStart) / 1e9 }
            if stepInPeriod == probing {
                choice = candidates[probeSeconds.indices.min { probeSeconds[$0] < probeSeconds[$1] }!]
            }
            probeStart = now
        }
        let threads = stepInPeriod < probing && candidates.count > 1 ? candidates[stepInPeriod / probeSteps] : choice
        stepsByCandidate[candidates.firstIndex(of: threads)!] += 1
        stepInPeriod = (stepInPeriod + 1) % period
        return threads
    }
}
