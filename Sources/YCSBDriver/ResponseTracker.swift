import Foundation
import Histogram
import Kafka
import StatefulFunctions
import Synchronization
import YCSB

/// Reads the responses topic and matches each response to its request: latency from produced
/// to consumed (microseconds, in HDR histograms), statuses, and repeats.
final class ResponseTracker: Sendable {
    struct State {
        var sentAt: [String: ContinuousClock.Instant] = [:]
        var answers: [String: YCSB.Response] = [:]
        /// The same request answered again with the same outcome (an egress repeat).
        var repeats = 0
        /// The same request answered again with a different outcome: must stay 0.
        var conflicting = 0
        var total = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var window = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var statuses: [Int: Int] = [:]
        var windowErrors = 0
    }

    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let consumer: KafkaConsumer
    private let shared = Shared()
    private let task: Task<Void, Never>

    /// Reads `topic` from its current end: earlier runs' responses are not counted.
    static func start(_ kafka: KafkaSettings, topic: String) async throws -> ResponseTracker {
        let admin = try KafkaAdmin(configuration: kafka.admin)
        let partitions = try await admin.describeTopic(topic).partitionCount
        let consumer = try KafkaConsumer(configuration: kafka.consumer)
        var start: [TopicPartitionOffset] = []
        for partition in 0..<Int32(partitions) {
            let high = try await consumer.watermarks(TopicPartition(topic, partition)).high
            start.append(TopicPartitionOffset(topic, partition, offset: high))
        }
        try consumer.assign(start)
        return ResponseTracker(consumer: consumer, start: start)
    }

    private init(consumer: KafkaConsumer, start: [TopicPartitionOffset]) {
        self.consumer = consumer
        task = Task { [consumer, shared] in
            await consumer.readWithoutGaps(startingAt: start, skipped: { from in
                progress("responses from \(from) on were skipped by the broker's fetch: reading them again")
            }) { records in
                let now = ContinuousClock.now
                let responses = records.compactMap { try? Message(bytes: $0.value ?? []).decode(YCSB.Response.self) }
                shared.state.withLock { state in
                    for response in responses { state.receive(response, at: now) }
                }
            }
        }
    }

    func sent(_ requestID: String) { shared.state.withLock { $0.sentAt[requestID] = .now } }

    func withState<T>(_ body: (inout State) -> T) -> T { shared.state.withLock { body(&$0) } }

    /// Waits until every request of `ids` is answered, or no answer has come for `seconds` (a
    /// backlog may take longer than that to drain, as long as it keeps draining); returns how
    /// many are missing.
    func waitForAnswers(_ ids: some Collection<String>, quietSeconds seconds: Double) async -> Int {
        var deadline = ContinuousClock.now + .seconds(seconds)
        var lastMissing = Int.max
        while true {
            let missing = withState { state in ids.count { state.answers[$0] == nil } }
            if missing < lastMissing {
                lastMissing = missing
                deadline = ContinuousClock.now + .seconds(seconds)
            }
            if missing == 0 || ContinuousClock.now >= deadline { return missing }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    func close() async {
        await consumer.close()
        task.cancel()
    }
}

extension ResponseTracker.State {
    mutating func receive(_ response: YCSB.Response, at now: ContinuousClock.Instant) {
        if let earlier = answers[response.request_id] {
            if earlier == response { repeats += 1 } else { conflicting += 1 }
            return
        }
        // An earlier run's response: reading starts a little before the topic's end, since
        // the local broker under-reports where it is (see `KafkaConsumer.readToEnd`).
        guard let sent = sentAt.removeValue(forKey: response.request_id) else { return }
        answers[response.request_id] = response
        statuses[response.status, default: 0] += 1
        if ![200, 404, 422].contains(response.status) { windowErrors += 1 }
        let micros = UInt64(max(0, (now - sent).microseconds))
        total.record(micros)
        window.record(micros)
    }

    /// Forgets the latencies and statuses recorded so far (those of the load).
    mutating func resetMeasurements() {
        total.reset()
        window.reset()
        windowErrors = 0
    }

    /// p50, p95, p99 and max of every latency since the reset, in milliseconds.
    var latencyPercentiles: [Double] {
        [50, 95, 99].map { Double(total.valueAtPercentile($0)) / 1_000 } + [Double(total.max) / 1_000]
    }

    /// The window's p50 and p99 in milliseconds and its errors, and starts a new window.
    mutating func takeWindow() -> (count: UInt64, p50: Double, p99: Double, errors: Int) {
        defer {
            window.reset()
            windowErrors = 0
        }
        return (window.totalCount, Double(window.valueAtPercentile(50)) / 1_000, Double(window.valueAtPercentile(99)) / 1_000, windowErrors)
    }
}

extension Duration {
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
