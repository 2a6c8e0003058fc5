import Foundation
import Histogram
import Kafka
import StatefulFunctions
import Synchronization
import YCSB

/// Reads the responses topic and matches each response to its request: statuses, repeats, and
/// two latencies (microseconds, in HDR histograms). Client-side latency runs from handing the
/// request to the producer to consuming its response; server-side latency is the response
/// record's timestamp minus the request record's (both set by their producers), so it leaves
/// out the driver's fetching and decoding of the response.
final class ResponseTracker: Sendable {
    struct State {
        /// When each unanswered request was produced: a monotonic instant, and the record's
        /// timestamp (milliseconds since the epoch).
        var sentAt: [String: (instant: ContinuousClock.Instant, timestamp: Int64)] = [:]
        var answers: [String: YCSB.Response] = [:]
        /// The same request answered again with the same outcome (an egress repeat).
        var repeats = 0
        /// The same request answered again with a different outcome: must stay 0.
        var conflicting = 0
        var total = LatencyHistograms()
        var window = LatencyHistograms()
        var statuses: [Int: Int] = [:]
        var windowErrors = 0
        var metrics = DriverMetrics()
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
                let responses = records.compactMap { record in
                    (try? Message(bytes: record.value ?? []).decode(YCSB.Response.self)).map { ($0, record.timestamp) }
                }
                shared.state.withLock { state in
                    for (response, timestamp) in responses { state.receive(response, at: now, recordTimestamp: timestamp) }
                }
            }
        }
    }

    /// Notes that the request `requestID` is produced now, with the record timestamp
    /// `timestamp` (milliseconds since the epoch).
    func sent(_ requestID: String, timestamp: Int64) {
        shared.state.withLock { state in
            state.sentAt[requestID] = (.now, timestamp)
            state.metrics.requestSent()
        }
    }

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
    /// `recordTimestamp`: the response record's timestamp (milliseconds since the epoch).
    mutating func receive(_ response: YCSB.Response, at now: ContinuousClock.Instant, recordTimestamp: Int64?) {
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
        let client = UInt64(max(0, (now - sent.instant).microseconds))
        let server = recordTimestamp.map { UInt64(max(0, $0 - sent.timestamp)) * 1_000 }
        total.record(client: client, server: server)
        window.record(client: client, server: server)
        metrics.answered(status: response.status, clientMicroseconds: client, serverMicroseconds: server)
    }

    /// Forgets the latencies and statuses recorded so far (those of the load).
    mutating func resetMeasurements() {
        total.reset()
        window.reset()
        windowErrors = 0
    }

    /// The window's latencies and errors, and starts a new window.
    mutating func takeWindow() -> (latency: LatencyHistograms, errors: Int) {
        defer {
            window.reset()
            windowErrors = 0
        }
        return (window, windowErrors)
    }
}

/// Client-side and server-side latencies of the same responses (see `ResponseTracker`).
struct LatencyHistograms {
    private(set) var client = Self.histogram()
    private(set) var server = Self.histogram()

    private static func histogram() -> Histogram<UInt64> {
        Histogram(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    }

    /// Microseconds; `server` is absent for a response record without a timestamp.
    mutating func record(client: UInt64, server: UInt64?) {
        self.client.record(client)
        if let server { self.server.record(server) }
    }

    mutating func reset() {
        client.reset()
        server.reset()
    }

    var count: UInt64 { client.totalCount }
    var clientPercentiles: Percentiles { Percentiles(client) }
    var serverPercentiles: Percentiles { Percentiles(server) }
}

/// p50, p95, p99 and max of a latency histogram, in milliseconds.
struct Percentiles: Codable, Equatable {
    var p50: Double
    var p95: Double
    var p99: Double
    var max: Double

    init(_ histogram: Histogram<UInt64>) {
        p50 = Double(histogram.valueAtPercentile(50)) / 1_000
        p95 = Double(histogram.valueAtPercentile(95)) / 1_000
        p99 = Double(histogram.valueAtPercentile(99)) / 1_000
        max = Double(histogram.max) / 1_000
    }
}

extension Duration {
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
