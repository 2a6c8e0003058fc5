import StatefulFunctions

/// The participants of a two-phase commit and the rules of their votes: a value that takes an
/// event (a vote, a retry, giving up) and returns what to send, so that the rules hold in one
/// place and are tested without a partition.
///
/// A transaction commits when every participant voted yes, and fails at the first no. Aborts
/// go to every participant that may hold or wait for its lock: all but those that voted no.
struct TwoPhaseVotes: Sendable, Equatable {
    struct Participant: Sendable, Equatable {
        var address: Address
        /// Indices of its invocations in the plan, in order.
        var invocations: [Int32]
        /// Whether all its invocations are read-only (it then shares its lock with readers).
        var readOnly: Bool
        /// nil until it voted.
        var votedYes: Bool?
    }

    enum Action: Sendable, Equatable {
        /// Send participant `index` its prepare.
        case prepare(Int)
        case commit(Address)
        case abort(Address)
        /// The attempt is decided: committed after the commits, failed after the aborts.
        case finish
    }

    private(set) var participants: [Participant]

    init(participants: [Participant]) { self.participants = participants }

    /// One participant per distinct address of `invocations`, in order of first appearance.
    init(invocations: [TransactionInvocation]) {
        var participants: [Participant] = []
        var positions: [Address: Int] = [:]
        for (index, invocation) in invocations.enumerated() {
            if let position = positions[invocation.address] {
                participants[position].invocations.append(Int32(index))
                participants[position].readOnly = participants[position].readOnly && invocation.readOnly
            } else {
                positions[invocation.address] = participants.count
                participants.append(Participant(address: invocation.address, invocations: [Int32(index)],
                                                readOnly: invocation.readOnly, votedYes: nil))
            }
        }
        self.init(participants: participants)
    }

    /// Prepares every participant.
    func start() -> [Action] { participants.indices.map { .prepare($0) } }

    /// The invocations of `address` while its vote is awaited; nil for an address that is no
    /// participant or has voted (a repeat is ignored).
    func awaitedInvocations(of address: Address) -> [Int32]? {
        awaitedPosition(of: address).map { participants[$0].invocations }
    }

    /// Records a vote. The last yes commits everyone; a no aborts the others. Nothing for a
    /// vote not awaited.
    mutating func vote(of address: Address, yes: Bool) -> [Action] {
        guard let position = awaitedPosition(of: address) else { return [] }
        participants[position].votedYes = yes
        guard yes else { return abandon() }
        guard participants.allSatisfy({ $0.votedYes == true }) else { return [] }
        return participants.map { .commit($0.address) } + [.finish]
    }

    /// Gives the attempt up (timed out, or a deadlock victim out of retries): aborts and finishes.
    func abandon() -> [Action] { aborts() + [.finish] }

    /// The aborts of the attempt: to every participant but those that voted no.
    func aborts() -> [Action] {
        participants.filter { $0.votedYes != false }.map { .abort($0.address) }
    }

    /// Starts over (a deadlock victim, after its `aborts()` went out under the old attempt):
    /// forgets the votes and prepares everyone again.
    mutating func retry() -> [Action] {
        for position in participants.indices { participants[position].votedYes = nil }
        return start()
    }

    private func awaitedPosition(of address: Address) -> Int? {
        participants.firstIndex { $0.address == address && $0.votedYes == nil }
    }
}
