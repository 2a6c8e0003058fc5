import Runtime
import StatefulFunctions

/// Runs an application in-process, without Kafka: send messages or ingress records, move time
/// forward, then inspect state, invocations, egress records and dead letters.
///
/// It uses the engine's own partition logic with a single partition, so functions behave as
/// they do in a worker (the same rollback of failed invocations, the same timers).
public final class FunctionTestHarness {
    /// Milliseconds since the epoch, as functions see it in `context.now`.
    public private(set) var now: Int64
    private var core: PartitionCore
    private var epochs = EpochPipeline(partition: 0, incarnation: 1, recovered: EpochPosition(incarnation: 0, epoch: 0),
                                       stabilityOffset: 0)
    private var nextOffsets: [String: Int64] = [:]
    private var nextExternalIndex: Int32 = 0

    /// Egress records written so far, in order.
    public private(set) var egress: [EgressRecord] = []
    /// Records and messages refused so far, with the reason.
    public private(set) var deadLetters: [DeadLetter] = []

    public init(_ application: Application, startTime: Int64 = 0) {
        now = startTime
        core = PartitionCore(partition: 0, application: application, partitionOf: { _ in 0 })
        core.recordsInvocations = true
    }

    /// Delivers `message` to `address` as if sent by `caller` (nil: from outside), and runs
    /// everything it causes until nothing is left but pending timers.
    public func send(_ message: Message, to address: Address, from caller: Address? = nil) {
        let id = MessageID(partition: -1, epoch: 1, index: nextExternalIndex)
        nextExternalIndex += 1
        core.process(.envelope(Envelope(id: id, sequence: Int64(id.index) + 1, target: address, source: caller, message: message), position: nil), now: now)
        settle()
    }

    /// Delivers a record as if read from the ingress `topic`.
    public func ingest(topic: String, key: String?, value: String?, headers: [RecordHeader] = []) {
        ingest(IngressRecord(topic: topic, key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) }, headers: headers))
    }

    public func ingest(_ record: IngressRecord) {
        let offset = nextOffsets[record.topic, default: 0]
        nextOffsets[record.topic] = offset + 1
        core.process(.ingress(record, position: InputPosition(topic: record.topic, offset: offset)), now: now)
        settle()
    }

    /// Moves time forward, firing each delayed message at its due time.
    public func advanceTime(by duration: Duration) {
        let target = now + duration.wholeMilliseconds
        while let due = core.nextTimerDue(), due <= target {
            now = max(now, due)
            core.fireTimers(now: now)
            settle()
        }
        now = target
    }

    /// The current value of `spec` at `address`.
    public func state<V>(_ spec: ValueSpec<V>, of address: Address) throws -> V? {
        try core.state(spec, of: address)
    }

    /// Every invocation so far, in order: who was invoked, by whom, with what.
    public var invocations: [(target: Address, caller: Address?, message: Message)] { core.invocations }

    /// Delayed messages waiting to fire.
    public var pendingTimerCount: Int { core.pendingTimerCount }

    /// Ends the epoch and releases its outbox at once: the harness has nothing to make durable.
    private func settle() {
        guard let closed = try? epochs.passThrough(&core) else { return }
        let items = closed.record.ownOutbox
        for item in items {
            switch item {
            case .egress(let record, _): egress.append(record)
            case .deadLetter(let letter, _): deadLetters.append(letter)
            case .envelope: preconditionFailure("a single partition sends no envelopes")
            }
        }
        if !items.isEmpty { core.acknowledge(epoch: closed.record.epoch, count: items.count) }
    }
}
