import Runtime
import StatefulFunctions
import YCSB

/// Several partitions of one application wired together in memory, with an injected clock and
/// full control over the order in which messages between partitions arrive. Each partition
/// closes an epoch after every input and its outbox is released at once.
struct TestNetwork {
    struct Channel: Hashable, Comparable {
        var from: Int32
        var to: Int32
        static func < (a: Channel, b: Channel) -> Bool { (a.from, a.to) < (b.from, b.to) }
    }

    var cores: [PartitionCore]
    /// Each partition's closed epochs, released as soon as they close.
    private var epochs: [EpochPipeline]
    /// Envelopes in flight, first in first out per pair of partitions.
    var inFlight: [Channel: [Envelope]] = [:]
    /// Envelopes delivered between partitions so far.
    private(set) var delivered = 0
    var egress: [EgressRecord] = []
    var deadLetters: [DeadLetter] = []
    /// Every checkpoint record per partition, for recovery tests.
    var log: [Int32: [EpochRecord]] = [:]
    var now: Int64 = 1_000
    private var nextExternal: Int32 = 0
    let partitionOf: @Sendable (Address) -> Int32
    private let application: Application
    private let settings: TransactionSettings

    /// `placement` maps an address id to its partition; other ids hash over the partitions.
    init(_ application: Application, partitions: Int32, placement: [String: Int32] = [:],
         settings: TransactionSettings = TransactionSettings()) {
        let partitionOf: @Sendable (Address) -> Int32 = { address in
            placement[address.id] ?? Int32(address.id.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xffff } % Int(partitions))
        }
        self.partitionOf = partitionOf
        self.application = application
        self.settings = settings
        cores = (0..<partitions).map {
            PartitionCore(partition: $0, application: application, transactionSettings: settings, partitionOf: partitionOf)
        }
        epochs = (0..<partitions).map { Self.pipeline($0, incarnation: 1, after: 0) }
    }

    private static func pipeline(_ partition: Int32, incarnation: UInt64, after epoch: Int64) -> EpochPipeline {
        EpochPipeline(partition: partition, incarnation: incarnation, recovered: EpochPosition(incarnation: incarnation - 1, epoch: epoch),
                      stabilityOffset: 0)
    }

    /// Replaces the core of `partition` with one rebuilt from its checkpoint log, as after a
    /// crash right after its last epoch became durable.
    mutating func restart(_ partition: Int32) throws {
        var restored = PartitionCore(partition: partition, application: application, transactionSettings: settings,
                                     partitionOf: partitionOf)
        for record in log[partition] ?? [] { try restored.restore(record) }
        cores[Int(partition)] = restored
        epochs[Int(partition)] = Self.pipeline(partition, incarnation: epochs[Int(partition)].incarnation + 1,
                                               after: log[partition]?.last?.epoch ?? 0)
    }

    /// Delivers `message` to `address` from outside (like an ingress record).
    mutating func inject(_ message: Message, to address: Address) {
        let id = MessageID(partition: -1, epoch: 1, index: nextExternal)
        nextExternal += 1
        let partition = partitionOf(address)
        cores[Int(partition)].process(.envelope(Envelope(id: id, sequence: Int64(id.index) + 1, target: address, source: nil, message: message), position: nil), now: now)
        collect(partition)
    }

    mutating func inject<T: Encodable>(json value: T, to address: Address) throws {
        inject(try Message(json: value), to: address)
    }

    /// Sends the signals of `partition`, closes its open epoch and releases its outbox.
    mutating func collect(_ partition: Int32) {
        for (envelope, target) in cores[Int(partition)].takeSignals() {
            inFlight[Channel(from: partition, to: target), default: []].append(envelope)
        }
        guard let closed = try! epochs[Int(partition)].passThrough(&cores[Int(partition)]) else { return }
        let record = closed.record
        log[partition, default: []].append(try! EpochRecord(decoding: record.encoded()))
        let items = record.ownOutbox
        for item in items {
            switch item {
            case .envelope(let envelope, let target): inFlight[Channel(from: partition, to: target), default: []].append(envelope)
            case .egress(let record, _): egress.append(record)
            case .deadLetter(let letter, _): deadLetters.append(letter)
            }
        }
        if !items.isEmpty { cores[Int(partition)].acknowledge(epoch: record.epoch, count: items.count) }
    }

    var channels: [Channel] { inFlight.filter { !$0.value.isEmpty }.keys.sorted() }

    /// Delivers the oldest envelope on `channel`.
    mutating func deliver(_ channel: Channel) {
        let envelope = inFlight[channel]!.removeFirst()
        delivered += 1
        cores[Int(channel.to)].process(.envelope(envelope, position: nil), now: now)
        // As a worker does after each batch: what is due now (e.g. a wait report) goes now.
        if let due = cores[Int(channel.to)].nextTimerDue(), due <= now { cores[Int(channel.to)].fireTimers(now: now) }
        collect(channel.to)
    }

    /// Delivers everything in flight, and what it causes, picking channels with `generator`
    /// (in channel order without one).
    mutating func run(_ generator: inout some RandomNumberGenerator) {
        while let channel = channels.randomElement(using: &generator) { deliver(channel) }
    }

    mutating func run() {
        while let channel = channels.first { deliver(channel) }
    }

    var isBusy: Bool { !channels.isEmpty || cores.contains { $0.busyCoordinatorCount > 0 } }

    /// Runs until nothing is in flight and no transaction is running, moving the clock on in
    /// steps of `step` milliseconds (at most `limit` of them) whenever deliveries alone stall.
    mutating func settle(_ generator: inout some RandomNumberGenerator, step: Int64 = 5, limit: Int = 1_000) {
        run(&generator)
        for _ in 0..<limit where isBusy {
            advance(by: step)
            run(&generator)
        }
    }

    /// `settle` delivering in channel order.
    mutating func settle(step: Int64 = 5, limit: Int = 1_000) {
        run()
        for _ in 0..<limit where isBusy {
            advance(by: step)
            run()
        }
    }

    /// Moves the clock to `time`, firing due timers, and delivers what they cause.
    mutating func advance(by milliseconds: Int64) {
        now += milliseconds
        for partition in cores.indices {
            cores[partition].fireTimers(now: now)
            collect(Int32(partition))
        }
    }

    func state<V>(_ spec: ValueSpec<V>, of address: Address) throws -> V? {
        try cores[Int(partitionOf(address))].state(spec, of: address)
    }

    var statistics: TransactionStatistics {
        cores.reduce(into: TransactionStatistics()) { $0.add($1.statistics) }
    }

    /// Responses on `topic`, decoded, in order.
    func responses<T: Decodable>(_ type: T.Type, topic: String) throws -> [T] {
        try egress.filter { $0.topic == topic }.map { try Message(bytes: $0.value ?? []).decode(T.self) }
    }
}
