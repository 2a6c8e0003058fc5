import CRDKafka

/// The one error type of the Kafka module.
///
/// Errors are classified where they cross the C boundary, so that callers decide on the
/// category (retry, give up, stop because fenced) rather than on librdkafka's raw codes.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure an error is, which decides what a caller does next.
    public enum Category: String, Sendable {
        /// A property name or value librdkafka rejects.
        case configuration
        /// Transient: broker down, timeout, leader moving. Trying again may succeed.
        case retriable
        /// Another client with the same identity took over (producer or group fencing).
        case fenced
        /// The current transaction must be aborted before continuing.
        case abortRequired
        /// The client instance is unusable and must be recreated.
        case fatal
        /// The request itself is wrong (topic exists, message too large, ...).
        case permanent
        /// The client was shut down while the operation was pending.
        case shutdown
    }

    /// What kind of failure it is; decide on this rather than on the codes.
    public let category: Category
    /// librdkafka's error code name (e.g. `TOPIC_ALREADY_EXISTS`, `_TRANSPORT`), when there is one.
    public let codeName: String?
    /// librdkafka's numeric error code, when there is one.
    public let rawCode: Int32?
    /// What was being done and what went wrong, in words.
    public let message: String
    /// The source file (`#fileID`) where the error was made.
    public let file: String
    /// The line in `file` where the error was made.
    public let line: UInt

    /// An error of `category` with `message` and, when it comes from librdkafka, its code; `file`
    /// and `line` default to the caller's location.
    public init(
        _ category: Category, _ message: String, codeName: String? = nil, rawCode: Int32? = nil,
        file: String = #fileID, line: UInt = #line
    ) {
        self.category = category
        self.message = message
        self.codeName = codeName
        self.rawCode = rawCode
        self.file = file
        self.line = line
    }

    /// Written `KafkaError.category [CODE_NAME]: message (file:line)`, the code name only when
    /// there is one.
    public var description: String {
        let code = codeName.map { " [\($0)]" } ?? ""
        return "KafkaError.\(category)\(code): \(message) (\(file):\(line))"
    }

    /// Whether trying again may succeed: the category is `.retriable`.
    public var isRetriable: Bool { category == .retriable }

    /// True for the given librdkafka error code.
    public func `is`(_ code: rd_kafka_resp_err_t) -> Bool { rawCode == code.rawValue }
}

extension KafkaError {
    /// An error from a librdkafka response code; `context` says what was being done.
    static func from(
        _ code: rd_kafka_resp_err_t, _ context: String, detail: String? = nil,
        file: String = #fileID, line: UInt = #line
    ) -> KafkaError {
        let name = String(cString: rd_kafka_err2name(code))
        let text = detail ?? String(cString: rd_kafka_err2str(code))
        return KafkaError(category(of: code), "\(context): \(text)", codeName: name, rawCode: code.rawValue,
                          file: file, line: line)
    }

    /// An error from a librdkafka error object, which it frees.
    static func consuming(
        _ error: OpaquePointer, _ context: String, file: String = #fileID, line: UInt = #line
    ) -> KafkaError {
        defer { rd_kafka_error_destroy(error) }
        let code = rd_kafka_error_code(error)
        let category: Category =
            if rd_kafka_error_is_fatal(error) != 0 { .fatal }
            else if rd_kafka_error_txn_requires_abort(error) != 0 { .abortRequired }
            else if rd_kafka_error_is_retriable(error) != 0 { .retriable }
            else { Self.category(of: code) }
        return KafkaError(category, "\(context): \(String(cString: rd_kafka_error_string(error)))",
                          codeName: String(cString: rd_kafka_error_name(error)), rawCode: code.rawValue,
                          file: file, line: line)
    }

    static func category(of code: rd_kafka_resp_err_t) -> Category {
        switch code {
        case RD_KAFKA_RESP_ERR__FENCED, RD_KAFKA_RESP_ERR_PRODUCER_FENCED,
             RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
            return .fenced
        case RD_KAFKA_RESP_ERR__FATAL:
            return .fatal
        case RD_KAFKA_RESP_ERR__DESTROY:
            return .shutdown
        case RD_KAFKA_RESP_ERR__INVALID_ARG, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
            return .permanent
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__TIMED_OUT,
             RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__RESOLVE,
             RD_KAFKA_RESP_ERR__WAIT_COORD, RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE,
             RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
             RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
             RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
             RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
             RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
             RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
            return .retriable
        default:
            return .permanent
        }
    }
}
