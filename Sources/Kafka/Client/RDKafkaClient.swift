import CRDKafka
import Foundation
import Logging

/// Owns one librdkafka handle (`rd_kafka_t`) and the context its C callbacks reach through the
/// handle's opaque pointer. The handle is destroyed when the last reference goes away.
///
/// librdkafka handles are thread-safe, hence `@unchecked Sendable`.
final class RDKafkaClient: @unchecked Sendable {
    let handle: OpaquePointer
    let callbacks: RDKafkaCallbacks

    init(
        kind: rd_kafka_type_t, properties: [String: String], callbacks: RDKafkaCallbacks,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) {
        let conf = try Self.makeConfiguration(properties)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
            guard let rk, let callbacks = RDKafkaCallbacks.from(rd_kafka_opaque(rk)) else { return }
            callbacks.log(level: level, facility: facility, message: message)
        }
        rd_kafka_conf_set_error_cb(conf) { rk, code, reason, opaque in
            guard let callbacks = RDKafkaCallbacks.from(opaque) else { return }
            let reasonText = reason.map { String(cString: $0) }
            var error = KafkaError.from(rd_kafka_resp_err_t(code), "client error", detail: reasonText)
            if code == RD_KAFKA_RESP_ERR__FATAL.rawValue, let rk {
                var buffer = [CChar](repeating: 0, count: 512)
                let fatal = rd_kafka_fatal_error(rk, &buffer, buffer.count)
                error = KafkaError(.fatal, "fatal: \(String(nulTerminated: buffer))",
                                   codeName: String(cString: rd_kafka_err2name(fatal)), rawCode: fatal.rawValue)
            }
            callbacks.reportError(error)
        }
        configure(conf)

        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(kind, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(.configuration, "cannot create client: \(String(nulTerminated: errorText))")
        }
        self.handle = handle
        self.callbacks = callbacks
    }

    /// Destroying waits for librdkafka's threads, up to a second for one that waits to
    /// reconnect (a consumer's group coordinator connection, typically): never on the releasing
    /// thread, often one of Swift's cooperative pool, nor on Dispatch's pool, which other
    /// blocking librdkafka calls share (`runBlocking`). A thread of its own does it; the
    /// callbacks live until it is done.
    deinit {
        nonisolated(unsafe) let handle = handle
        let callbacks = callbacks
        let thread = Thread {
            rd_kafka_destroy(handle)
            withExtendedLifetime(callbacks) {}
        }
        thread.name = "kafka-destroy"
        thread.start()
    }

    /// A `rd_kafka_conf_t` with every property set, or an error naming the rejected property.
    private static func makeConfiguration(_ properties: [String: String]) throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorText = [CChar](repeating: 0, count: 512)
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, name, value, &errorText, errorText.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(.configuration,
                                 "property \"\(name)\" = \"\(value)\" rejected: \(String(nulTerminated: errorText))")
            }
        }
        return conf
    }
}

/// What librdkafka's C callbacks call into. C callbacks cannot capture, so the client passes
/// this object as the handle's opaque pointer. All closures are set before the handle exists.
final class RDKafkaCallbacks: Sendable {
    let logger: Logger
    let onError: @Sendable (KafkaError) -> Void
    let onDelivery: (@Sendable (UnsafePointer<rd_kafka_message_t>) -> Void)?
    let onRebalance: (@Sendable (OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?

    init(
        logger: Logger,
        onError: @escaping @Sendable (KafkaError) -> Void = { _ in },
        onDelivery: (@Sendable (UnsafePointer<rd_kafka_message_t>) -> Void)? = nil,
        onRebalance: (@Sendable (OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)? = nil
    ) {
        self.logger = logger
        self.onError = onError
        self.onDelivery = onDelivery
        self.onRebalance = onRebalance
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> RDKafkaCallbacks? {
        opaque.map { Unmanaged<RDKafkaCallbacks>.fromOpaque($0).takeUnretainedValue() }
    }

    func log(level: Int32, facility: UnsafePointer<CChar>?, message: UnsafePointer<CChar>?) {
        // syslog levels: 0-3 errors, 4 warning, 5-6 notice/info, 7 debug.
        let swiftLevel: Logger.Level = switch level {
        case ...3: .error
        case 4: .warning
        case 5, 6: .info
        default: .debug
        }
        guard logger.logLevel <= swiftLevel else { return }
        let text = message.map { String(cString: $0) } ?? ""
        let fac = facility.map { String(cString: $0) } ?? ""
        logger.log(level: swiftLevel, "\(text)", metadata: ["rdkafka.facility": "\(fac)"])
    }

    func reportError(_ error: KafkaError) {
        logger.warning("librdkafka: \(error.message)", metadata: ["kafka.error": "\(error.codeName ?? "")"])
        onError(error)
    }
}

extension String {
    /// The text of a C error buffer filled by librdkafka.
    init(nulTerminated buffer: [CChar]) {
        self = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
