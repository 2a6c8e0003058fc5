import CRDKafka
import Logging
import Synchronization

/// An idempotent Kafka producer (`acks=all`, batching through `linger.ms`).
///
/// `send` returns when the broker acknowledged the record. `enqueue` only waits for room in the
/// local queue, for bulk producing; `flush` then waits until every enqueued record is
/// acknowledged and reports the first failure among them.
///
/// A dedicated thread serves librdkafka's delivery reports; call `shutdown()` when done.
public final class KafkaProducer: Sendable {
    private let client: RDKafkaClient
    private let tracker: DeliveryTracker
    private let topics: TopicHandles
    private let poller: LoopThread
    private let fence: (@Sendable () -> String?)?

    /// Creates the producer and starts its delivery-report thread. `logger` receives librdkafka's
    /// log lines and client errors. Throws a `.configuration` error when librdkafka rejects a
    /// property.
    public init(configuration: KafkaProducerConfiguration, logger: Logger = Logger(label: "kafka.producer")) throws(KafkaError) {
        let tracker = DeliveryTracker()
        let callbacks = RDKafkaCallbacks(
            logger: logger,
            onError: { error in if error.category == .fatal { tracker.fail(with: error) } },
            onDelivery: { message in tracker.delivered(message) }
        )
        let client = try RDKafkaClient(kind: RD_KAFKA_PRODUCER, properties: configuration.librdkafkaProperties,
                                       callbacks: callbacks) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let callbacks = RDKafkaCallbacks.from(opaque) else { return }
                callbacks.onDelivery?(message)
            }
        }
        self.client = client
        self.tracker = tracker
        self.topics = TopicHandles(client: client)
        self.fence = configuration.fence
        self.poller = LoopThread(name: "kafka-producer-poll") {
            rd_kafka_poll(client.handle, 100)
            tracker.afterPoll(outstanding: Int(rd_kafka_outq_len(client.handle)))
            return true
        }
    }

    deinit {
        poller.requestStop { rd_kafka_yield(client.handle) }
    }

    /// Produces `record` and returns once the broker has acknowledged it.
    @discardableResult
    public func send(_ record: ProducerRecord) async throws(KafkaError) -> DeliveryReport {
        let waiter = DeliveryWaiter(expecting: 1)
        try await produceAll([record], waiter: waiter)
        return try await waiter.result()
    }

    /// Produces `records` and returns once the broker has acknowledged all of them; throws the
    /// first failure. Cheaper than one `send` per record.
    public func send(_ records: [ProducerRecord]) async throws(KafkaError) {
        _ = try await produce(records).acknowledged()
    }

    /// Hands `records` to the local queue in order (waiting only when it is full) and returns
    /// without waiting for the broker. Records handed over later are written after these.
    public func produce(_ records: [ProducerRecord]) async throws(KafkaError) -> PendingDelivery {
        guard !records.isEmpty else { return PendingDelivery(waiter: nil) }
        let waiter = DeliveryWaiter(expecting: records.count)
        try await produceAll(records, waiter: waiter)
        return PendingDelivery(waiter: waiter)
    }

    /// Produces each record with the waiter as its opaque, retained once per record on
    /// librdkafka's behalf until the record's delivery report arrives.
    private func produceAll(_ records: [ProducerRecord], waiter: DeliveryWaiter) async throws(KafkaError) {
        for (index, record) in records.enumerated() {
            let retained = Unmanaged.passRetained(waiter)
            do {
                try await produce(record, opaque: retained.toOpaque())
            } catch {
                retained.release()
                // Records not handed over will never report; count them as failed.
                waiter.complete(.failure(error), count: records.count - index)
                throw error
            }
        }
    }

    /// Hands `record` to the local queue, waiting only when the queue is full. Failures of
    /// enqueued records are reported by the next `flush`.
    public func enqueue(_ record: ProducerRecord) async throws(KafkaError) {
        try await produce(record, opaque: nil)
    }

    /// Waits until every enqueued record has been acknowledged or has failed; throws the first
    /// failure since the previous `flush`.
    public func flush() async throws(KafkaError) {
        await tracker.waitUntilDrained(outstanding: { Int(rd_kafka_outq_len(client.handle)) })
        if let failure = tracker.takeFailure() { throw failure }
    }

    /// Flushes, then stops the delivery-report thread. The producer is unusable afterwards.
    public func shutdown() async throws(KafkaError) {
        defer { tracker.shutDown() }
        var flushed = Result<Void, KafkaError>.success(())
        do { try await flush() } catch { flushed = .failure(error) }
        poller.requestStop { rd_kafka_yield(client.handle) }
        await poller.waitForExit()
        try flushed.get()
    }

    /// Messages enqueued or in flight, not yet acknowledged.
    public var outstandingCount: Int { Int(rd_kafka_outq_len(client.handle)) }

    private func produce(_ record: ProducerRecord, opaque: UnsafeMutableRawPointer?) async throws(KafkaError) {
        let topic = try topics.handle(for: record.topic)
        while true {
            if let failure = tracker.fatalFailure { throw failure }
            if let reason = fence?() { throw KafkaError(.fenced, "produce to \(record.topic) refused: \(reason)") }
            let code = Self.produceva(topic, record, opaque: opaque, client: client.handle)
            switch code {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                return
            case RD_KAFKA_RESP_ERR__QUEUE_FULL:
                guard poller.isRunning else { throw KafkaError(.shutdown, "producer is shut down") }
                await tracker.waitForRoom()
            default:
                throw KafkaError.from(code, "produce to \(record.topic)")
            }
        }
    }

    private static func produceva(
        _ topic: OpaquePointer, _ record: ProducerRecord, opaque: UnsafeMutableRawPointer?, client: OpaquePointer
    ) -> rd_kafka_resp_err_t {
        var headers: OpaquePointer? = nil
        if !record.headers.isEmpty {
            headers = rd_kafka_headers_new(record.headers.count)
            for header in record.headers {
                withOptionalBytes(header.value) { pointer, count in
                    _ = rd_kafka_header_add(headers, header.key, -1, pointer, count)
                }
            }
        }
        let code = withOptionalBytes(record.key) { keyPointer, keyCount in
            withOptionalBytes(record.value) { valuePointer, valueCount in
                withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 8) { fields in
                var count = 0
                func add(_ type: rd_kafka_vtype_t, _ set: (inout rd_kafka_vu_t) -> Void) {
                    fields[count] = rd_kafka_vu_t()
                    fields[count].vtype = type
                    set(&fields[count])
                    count += 1
                }
                add(RD_KAFKA_VTYPE_RKT) { $0.u.rkt = topic }
                add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                if let partition = record.partition { add(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition } }
                if let keyPointer { add(RD_KAFKA_VTYPE_KEY) { $0.u.mem = .init(ptr: UnsafeMutableRawPointer(mutating: keyPointer), size: keyCount) } }
                if let valuePointer { add(RD_KAFKA_VTYPE_VALUE) { $0.u.mem = .init(ptr: UnsafeMutableRawPointer(mutating: valuePointer), size: valueCount) } }
                if let headers { add(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = headers } }
                if let timestamp = record.timestamp { add(RD_KAFKA_VTYPE_TIMESTAMP) { $0.u.i64 = timestamp } }
                if let opaque { add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = opaque } }
                let error = rd_kafka_produceva(client, fields.baseAddress, count)
                guard let error else { return RD_KAFKA_RESP_ERR_NO_ERROR }
                let code = rd_kafka_error_code(error)
                rd_kafka_error_destroy(error)
                return code
                }
            }
        }
        // On failure the headers were not handed over to librdkafka.
        if code != RD_KAFKA_RESP_ERR_NO_ERROR, let headers { rd_kafka_headers_destroy(headers) }
        return code
    }
}

/// Calls `body` with a pointer to `bytes` and their count; `nil` bytes give a `nil` pointer.
/// An empty, non-nil array gets a valid pointer so that it stays distinct from `nil`.
private func withOptionalBytes<T>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> T) -> T {
    guard let bytes else { return body(nil, 0) }
    if bytes.isEmpty { return withUnsafeBytes(of: 0 as UInt8) { body($0.baseAddress, 0) } }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}

/// A `send` waiting for the delivery reports of its records; passed to librdkafka as each
/// record's opaque. Reports may arrive before `send` starts waiting, so either side may come first.
private final class DeliveryWaiter: Sendable {
    private struct State {
        var remaining: Int
        var outcome: Result<DeliveryReport, KafkaError>?
        var continuation: CheckedContinuation<Result<DeliveryReport, KafkaError>, Never>?
        var highest: [TopicPartition: Int64] = [:]
    }

    private let state: Mutex<State>

    init(expecting count: Int) {
        state = Mutex(State(remaining: count))
    }

    /// Records `count` reports; the first failure wins, otherwise the last report is kept.
    func complete(_ result: Result<DeliveryReport, KafkaError>, count: Int = 1) {
        let resume = state.withLock { state -> (CheckedContinuation<Result<DeliveryReport, KafkaError>, Never>, Result<DeliveryReport, KafkaError>)? in
            state.remaining -= count
            if case .failure = state.outcome {} else { state.outcome = result }
            if case .success(let report) = result {
                let partition = TopicPartition(report.topic, report.partition)
                state.highest[partition] = max(state.highest[partition] ?? -1, report.offset)
            }
            guard state.remaining <= 0, let continuation = state.continuation, let outcome = state.outcome else { return nil }
            state.continuation = nil
            return (continuation, outcome)
        }
        if let (continuation, outcome) = resume { continuation.resume(returning: outcome) }
    }

    func result() async throws(KafkaError) -> DeliveryReport {
        let result = await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Result<DeliveryReport, KafkaError>? in
                if state.remaining <= 0, let outcome = state.outcome { return outcome }
                state.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
        return try result.get()
    }

    /// Per partition, the highest offset acknowledged so far.
    var highest: [TopicPartition: Int64] { state.withLock { $0.highest } }
}

/// Records handed to the producer whose acknowledgement is awaited later.
public struct PendingDelivery: Sendable {
    fileprivate let waiter: DeliveryWaiter?

    /// Waits until the broker has acknowledged every record; returns the report of the last one
    /// (nil when there were none) or throws the first failure.
    @discardableResult
    public func acknowledged() async throws(KafkaError) -> DeliveryReport? {
        try await waiter?.result()
    }

    /// Waits like `acknowledged`; returns, per partition written to, the highest offset.
    public func highestOffsets() async throws(KafkaError) -> [TopicPartition: Int64] {
        guard let waiter else { return [:] }
        _ = try await waiter.result()
        return waiter.highest
    }
}

/// Delivery bookkeeping shared between the producer and its poll thread.
final class DeliveryTracker: Sendable {
    private struct State {
        var failure: KafkaError?
        var fatal: KafkaError?
        var isShutDown = false
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    /// Touched only on the poll thread.
    private let offsets = Mutex(VouchedOffsets())

    /// Called on the poll thread for each delivery report. The common case (an acknowledged
    /// `enqueue` at a real offset) only checks the offset.
    func delivered(_ message: UnsafePointer<rd_kafka_message_t>) {
        let m = message.pointee
        let key = VouchedOffsets.PartitionKey(topic: UInt(bitPattern: m.rkt), partition: m.partition)
        let real = m.err == RD_KAFKA_RESP_ERR_NO_ERROR && offsets.withLock { $0.isReal(m.offset, of: key) }
        if m._private == nil && real { return }
        let topic = String(cString: rd_kafka_topic_name(m.rkt))
        let result = Self.outcome(code: m.err, topic: topic, partition: m.partition, offset: real ? m.offset : -1)
        if let opaque = m._private {
            Unmanaged<DeliveryWaiter>.fromOpaque(opaque).takeRetainedValue().complete(result)
        } else if case .failure(let error) = result {
            state.withLock { if $0.failure == nil { $0.failure = error } }
        }
    }

    /// A delivery report's outcome. An acknowledgement without a real offset (see
    /// `VouchedOffsets`) is a failure: the broker answered a retry with "duplicate sequence
    /// number", which vouches for a record it may never have written (Tansu counts the sequence
    /// before it writes the records, so a broker stopped in between answers the retry this way
    /// and has lost the record). Callers send again or check, and drop repeats by id, rather
    /// than trust it.
    static func outcome(code: rd_kafka_resp_err_t, topic: String, partition: Int32, offset: Int64) -> Result<DeliveryReport, KafkaError> {
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { return .failure(.from(code, "delivery to \(topic)[\(partition)]")) }
        guard offset >= 0 else {
            return .failure(KafkaError(.retriable, "delivery to \(topic)[\(partition)] acknowledged without an offset; the broker may not have the record"))
        }
        return .success(DeliveryReport(topic: topic, partition: partition, offset: offset))
    }

    func fail(with error: KafkaError) {
        state.withLock { state in
            state.fatal = error
            if state.failure == nil { state.failure = error }
        }
    }

    var fatalFailure: KafkaError? { state.withLock { $0.fatal } }

    func takeFailure() -> KafkaError? {
        state.withLock { state in
            defer { state.failure = nil }
            return state.failure
        }
    }

    /// Called on the poll thread after every poll: room may have appeared, the queue may be empty.
    func afterPoll(outstanding: Int) {
        let (room, drained) = state.withLock { state in
            let room = state.roomWaiters
            state.roomWaiters = []
            var drained: [CheckedContinuation<Void, Never>] = []
            if outstanding == 0 || state.isShutDown {
                drained = state.drainWaiters
                state.drainWaiters = []
            }
            return (room, drained)
        }
        room.forEach { $0.resume() }
        drained.forEach { $0.resume() }
    }

    func waitForRoom() async {
        await withCheckedContinuation { continuation in
            state.withLock { $0.roomWaiters.append(continuation) }
        }
    }

    func waitUntilDrained(outstanding: () -> Int) async {
        if outstanding() == 0 { return }
        await withCheckedContinuation { continuation in
            state.withLock { $0.drainWaiters.append(continuation) }
        }
    }

    func shutDown() {
        let waiters = state.withLock { state in
            state.isShutDown = true
            defer { state.roomWaiters = []; state.drainWaiters = [] }
            return state.roomWaiters + state.drainWaiters
        }
        waiters.forEach { $0.resume() }
    }
}

/// librdkafka topic handles, created once per topic name and kept for the client's lifetime.
final class TopicHandles: Sendable {
    private let client: RDKafkaClient
    private let handles = Mutex<[String: TopicHandle]>([:])

    init(client: RDKafkaClient) {
        self.client = client
    }

    func handle(for topic: String) throws(KafkaError) -> OpaquePointer {
        try handles.withLock { handles throws(KafkaError) -> OpaquePointer in
            if let existing = handles[topic] { return existing.pointer }
            guard let pointer = rd_kafka_topic_new(client.handle, topic, nil) else {
                throw KafkaError.from(rd_kafka_last_error(), "topic \"\(topic)\"")
            }
            handles[topic] = TopicHandle(pointer: pointer)
            return pointer
        }
    }
}

private final class TopicHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(pointer: OpaquePointer) { self.pointer = pointer }
    deinit { rd_kafka_topic_destroy(pointer) }
}
