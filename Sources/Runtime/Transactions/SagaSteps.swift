/// The steps of a saga and the rules that order them: a value that takes an event (started, a
/// step done, a compensation done) and returns what to do next, so that the stage rules hold
/// in one place and are tested without a partition.
///
/// Stages run one after the other, the steps of a stage in parallel. After a failure no later
/// stage starts, and completed steps are compensated stage by stage, the latest first: a
/// stage's compensations start once every later stage is settled.
struct SagaSteps: Sendable, Equatable {
    enum Status: Int, Sendable {
        case running
        case completed
        case failed
        case compensating
        case compensated
        /// Its stage has not started (and never will, after a failure).
        case pending
    }

    enum Action: Sendable, Equatable {
        /// Send step `index` to its participant.
        case run(Int)
        /// Send the compensation of step `index`.
        case compensate(Int)
        /// Every step is settled: the saga ends, failed or committed.
        case finish
    }

    private(set) var statuses: [Status]
    /// Where each stage starts in the steps.
    let stageStarts: [Int]
    /// Whether each step has a compensation; a completed step without one counts as
    /// compensated at once.
    let compensable: [Bool]

    init(statuses: [Status], stageStarts: [Int], compensable: [Bool]) {
        self.statuses = statuses
        self.stageStarts = stageStarts.isEmpty ? [0] : stageStarts
        self.compensable = compensable
    }

    /// A saga of `compensable.count` steps, none started.
    init(stageStarts: [Int], compensable: [Bool]) {
        self.init(statuses: Array(repeating: .pending, count: compensable.count), stageStarts: stageStarts, compensable: compensable)
    }

    var failed: Bool { statuses.contains(.failed) }

    /// Starts the first stage.
    mutating func start() -> [Action] { advance() }

    /// Step `index` completed or failed; nothing when it was not running (a repeat).
    mutating func stepDone(_ index: Int, failed: Bool) -> [Action] {
        guard isRunning(index) else { return [] }
        statuses[index] = failed ? .failed : .completed
        return advance()
    }

    /// The compensation of step `index` succeeded; nothing when it was not compensating.
    mutating func compensated(_ index: Int) -> [Action] {
        guard isCompensating(index) else { return [] }
        statuses[index] = .compensated
        return advance()
    }

    func isRunning(_ index: Int) -> Bool { statuses.indices.contains(index) && statuses[index] == .running }

    func isCompensating(_ index: Int) -> Bool { statuses.indices.contains(index) && statuses[index] == .compensating }

    private func steps(ofStage stage: Int) -> Range<Int> {
        stageStarts[stage]..<(stage + 1 < stageStarts.count ? stageStarts[stage + 1] : statuses.count)
    }

    private mutating func advance() -> [Action] {
        failed ? compensateLatestStage() : runNextStage()
    }

    private mutating func runNextStage() -> [Action] {
        guard let stage = stageStarts.indices.first(where: { steps(ofStage: $0).contains { statuses[$0] != .completed } }) else {
            return [.finish]
        }
        let next = steps(ofStage: stage)
        guard next.allSatisfy({ statuses[$0] == .pending }) else { return [] }
        for index in next { statuses[index] = .running }
        return next.map(Action.run)
    }

    private mutating func compensateLatestStage() -> [Action] {
        var actions: [Action] = []
        let unsettled: Set<Status> = [.running, .completed, .compensating]
        while let stage = stageStarts.indices.last(where: { steps(ofStage: $0).contains { unsettled.contains(statuses[$0]) } }) {
            for index in steps(ofStage: stage) where statuses[index] == .completed {
                statuses[index] = compensable[index] ? .compensating : .compensated
                if compensable[index] { actions.append(.compensate(index)) }
            }
            // Running steps report first; compensations must succeed before the stage below.
            if steps(ofStage: stage).contains(where: { statuses[$0] == .running || statuses[$0] == .compensating }) {
                return actions
            }
        }
        return actions + [.finish]
    }
}
