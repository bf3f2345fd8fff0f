import Dispatch
import Foundation
import Synchronization

/// Threads that run the parts of a training step together: `run(parts:)` hands part 0 to the
/// calling thread and the others to helpers, and returns when all are done.
///
/// A step of the lecture's model is tens of microseconds, split into a handful of phases; waking
/// a parked thread costs about as much as a phase. So a helper spins on an atomic counter while
/// work keeps coming, and parks on a semaphore only after `spinLimit` idle checks (about 0.1 ms):
/// between steps it is ready at once, between runs it sleeps.
///
/// One team serves the process. A caller that finds it busy (another thread's model is using
/// it) runs its parts itself, one after the other: every user of the team computes the same
/// result however its parts are run.
///
/// Work is an object and a task number rather than a closure: handing a closure to another
/// thread means making it escaping, which allocates, and a training step allocates nothing.
/// What a `WorkerTeam` runs: `run(task:part:)` for every part of a task.
protocol TeamWork: AnyObject {
    func run(task: Int, part: Int)
}

final class WorkerTeam: @unchecked Sendable {
    static let shared = WorkerTeam()

    /// Idle checks before a helper parks.
    static let spinLimit = 100_000

    private let busy = Atomic<Bool>(false)
    /// Bumped once per `run`: a helper that sees a new value takes part `index + 1` of `job`.
    private let generation = Atomic<Int>(0)
    /// Helpers still working on the current job.
    private let remaining = Atomic<Int>(0)
    /// The work of the current generation (kept alive by the caller of `run`, which waits), its
    /// task and its number of parts.
    private unowned(unsafe) var work: (any TeamWork)?
    private var task = 0
    private var parts = 1
    /// Grown, never shrunk, by `run` while it holds `busy`. Every helper answers every job, the
    /// ones past its parts with nothing.
    private var helpers: [Helper] = []

    /// Runs `work.run(task: task, part: p)` for `p` in `0..<parts`, on `parts` threads at once when
    /// the team is free, else one after the other on the calling thread.
    func run(parts: Int, _ work: any TeamWork, task: Int) {
        guard parts > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for part in 0..<parts { work.run(task: task, part: part) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        while helpers.count < parts - 1 {
            helpers.append(Helper(team: self, index: helpers.count, generation: generation.load(ordering: .relaxed)))
        }
        self.work = work
        self.task = task
        self.parts = parts
        remaining.store(helpers.count, ordering: .relaxed)
        generation.add(1, ordering: .sequentiallyConsistent)
        for helper in helpers where helper.sleeping.load(ordering: .sequentiallyConsistent) {
            helper.wake.signal()
        }
        work.run(task: task, part: 0)
        while remaining.load(ordering: .acquiring) != 0 {}
        self.work = nil
    }

    /// One helper thread: takes part `index + 1` of each job with more parts than that.
    final class Helper: @unchecked Sendable {
        let sleeping = Atomic<Bool>(false)
        let wake = DispatchSemaphore(value: 0)

        /// A helper that takes the jobs after `generation`.
        init(team: WorkerTeam, index: Int, generation: Int) {
            let thread = Thread { [self] in loop(team: team, index: index, seen: generation) }
            thread.stackSize = 1 << 20
            thread.start()
        }

        private func loop(team: WorkerTeam, index: Int, seen: Int) {
            var seen = seen
            while true {
                var idle = 0
                while team.generation.load(ordering: .acquiring) == seen {
                    idle += 1
                    guard idle >= WorkerTeam.spinLimit else { continue }
                    // Park; `run` signals after bumping the generation if it sees `sleeping`.
                    sleeping.store(true, ordering: .sequentiallyConsistent)
                    if team.generation.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                    sleeping.store(false, ordering: .relaxed)
                    idle = 0
                }
                seen += 1  // `run` waits for every helper before the next job
                if index + 1 < team.parts { team.work?.run(task: team.task, part: index + 1) }
                team.remaining.subtract(1, ordering: .releasing)
            }
        }
    }
}

/// How the fast paths cut a step's work between the parts of a `WorkerTeam`: ranges of rows and
/// slices of features, shared by every model's fast step.
enum Partition {
    /// Part `part` of `parts` of `0..<count`: contiguous ranges of whole vectors (8 elements), in
    /// order; the last ones may be shorter or empty.
    static func part(_ part: Int, of parts: Int, _ count: Int) -> Range<Int> {
        let size = ((count + parts - 1) / parts + 7) / 8 * 8
        return Swift.min(count, part * size)..<Swift.min(count, (part + 1) * size)
    }

    /// `featureSlices(width).count`, without building the array (a step asks it every time).
    static func featureSliceCount(_ width: Int) -> Int {
        width >= 64 ? 2 : 1
    }

    /// The feature slices of a layer of `width` features: one for fewer than 64, else two that
    /// meet near the middle at a multiple of 32 features, so that in the parameter table (whose
    /// tensors start on 128-byte boundaries) vectors and weight rows are cut on cache-line
    /// boundaries and two threads never write the same line.
    static func featureSlices(_ width: Int) -> [Range<Int>] {
        guard featureSliceCount(width) > 1 else { return [0..<width] }
        let split = Swift.max(32, Int((Double(width) / 64).rounded()) * 32)
        return [0..<split, split..<width]
    }
}
