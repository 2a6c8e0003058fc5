import Foundation
import Runtime
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Posts remote functions' batches over HTTP. One session per worker, so that connections to an
/// endpoint are reused; calls run on their own tasks, never on a partition's loop.
final class RemoteClient: Sendable {
    private let session: URLSession

    init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration)
    }

    deinit { session.invalidateAndCancel() }

    /// Posts `call`, trying again with a growing pause (10 ms to 1 s) after a failed connection or
    /// a status other than 2xx, until the endpoint's call timeout has passed. Nil when the task
    /// was cancelled (the worker is letting the partition go: its next owner sends the batch).
    func call(_ call: RemoteCall) async -> RemoteOutcome? {
        guard let url = URL(string: call.url) else { return .failed("\"\(call.url)\" is not a URL") }
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(call.endpoint.callTimeoutMilliseconds)
        let body = Data(call.request.encoded())
        var pause = Duration.milliseconds(10), tries = 0, last = ""
        while true {
            tries += 1
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
            request.httpBody = body
            request.timeoutInterval = max(0.001, Double((deadline - clock.now).wholeMilliseconds) / 1_000)
            do {
                let (data, response) = try await session.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if (200..<300).contains(status) {
                    do { return .reply(try RemoteReply(decoding: Array(data))) } catch {
                        return .failed("the answer is not a FromFunction message: \(error)")
                    }
                }
                last = "HTTP status \(status): \(String(decoding: data.prefix(200), as: UTF8.self))"
            } catch {
                if Task.isCancelled { return nil }
                // A try cut short by the deadline says less than the failure before it.
                if last.isEmpty || (error as? URLError)?.code != .timedOut { last = "\(error)" }
            }
            guard clock.now + pause < deadline else {
                return .failed("no answer after \(tries) tries in \(call.endpoint.callTimeoutMilliseconds) ms; last: \(last)")
            }
            try? await Task.sleep(for: pause)
            if Task.isCancelled { return nil }
            pause = min(pause * 2, .seconds(1))
        }
    }
}
