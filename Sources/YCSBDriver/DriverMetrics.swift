import Metrics

/// The driver's figures as swift-metrics, for a dashboard next to the engine's (served with
/// `--metrics-port`): requests sent, responses by status, client- and server-side latency.
struct DriverMetrics {
    private let sent = Counter(label: "ycsb_requests_sent_total")
    private let clientLatency = Timer(label: "ycsb_latency_seconds", dimensions: [("side", "client")])
    private let serverLatency = Timer(label: "ycsb_latency_seconds", dimensions: [("side", "server")])
    private var responses: [Int: Counter] = [:]

    func requestSent() { sent.increment() }

    /// A first answer: its status and latencies (microseconds; server-side when known).
    mutating func answered(status: Int, clientMicroseconds: UInt64, serverMicroseconds: UInt64?) {
        if responses[status] == nil { responses[status] = Counter(label: "ycsb_responses_total", dimensions: [("status", "\(status)")]) }
        responses[status]!.increment()
        clientLatency.recordMicroseconds(clientMicroseconds)
        if let serverMicroseconds { serverLatency.recordMicroseconds(serverMicroseconds) }
    }
}
