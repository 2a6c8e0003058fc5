import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Runtime

/// Posts remote functions' batches over HTTP with async-http-client: one client per worker, whose
/// pool keeps connections to an endpoint open between calls. Calls run on their own tasks, never
/// on a partition's loop.
final class RemoteClient: Sendable {
    private let client: HTTPClient
    private let metrics: RemoteMetrics
    /// Answers larger than this fail the call (a batch's answer is the function's effects).
    static let maxAnswerBytes = 64 * 1_024 * 1_024

    init(metrics: RemoteMetrics) {
        self.metrics = metrics
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Closes the pool's connections; calls still running fail.
    func shutdown() async {
        try? await client.shutdown()
    }

    /// Posts `call`, trying again with a growing pause (10 ms to 1 s) after a failed connection or
    /// a status other than 2xx, until the endpoint's call timeout has passed. Nil when the task
    /// was cancelled (the worker is letting the partition go: its next owner sends the batch).
    func call(_ call: RemoteCall) async -> RemoteOutcome? {
        let started = ContinuousClock.now
        let (outcome, tries) = await post(call)
        if let outcome { metrics.record(call, outcome, tries: tries, after: .now - started) }
        return outcome
    }

    private func post(_ call: RemoteCall) async -> (RemoteOutcome?, tries: Int) {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(call.endpoint.callTimeoutMilliseconds)
        var request = HTTPClientRequest(url: call.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        let body = ByteBuffer(bytes: call.request.encoded())
        var pause = Duration.milliseconds(10), tries = 0, last = ""
        while true {
            tries += 1
            request.body = .bytes(body)
            do {
                let remaining = TimeAmount.milliseconds(max(1, (deadline - clock.now).wholeMilliseconds))
                let response = try await client.execute(request, timeout: remaining)
                let answer = try await response.body.collect(upTo: Self.maxAnswerBytes)
                if (200..<300).contains(response.status.code) {
                    do { return (.reply(try RemoteReply(decoding: Array(buffer: answer))), tries) } catch {
                        return (.failed("the answer is not a FromFunction message: \(error)"), tries)
                    }
                }
                last = "HTTP status \(response.status.code): \(String(buffer: answer).prefix(200))"
            } catch {
                if Task.isCancelled { return (nil, tries) }
                // A try cut short by the deadline says less than the failure before it.
                if last.isEmpty || (error as? HTTPClientError) != .deadlineExceeded { last = "\(error)" }
            }
            guard clock.now + pause < deadline else {
                return (.failed("no answer after \(tries) tries in \(call.endpoint.callTimeoutMilliseconds) ms; last: \(last)"), tries)
            }
            try? await Task.sleep(for: pause)
            if Task.isCancelled { return (nil, tries) }
            pause = min(pause * 2, .seconds(1))
        }
    }
}
