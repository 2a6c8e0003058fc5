import CRDKafka

/// Reads a batch of messages from a librdkafka queue and turns them into consumer events.
/// Used only by the polling thread; it caches topic names per topic handle.
final class BatchReader: @unchecked Sendable {
    private var buffer: [UnsafeMutablePointer<rd_kafka_message_t>?]
    private var topicNames: [OpaquePointer: String] = [:]

    init(maxBatchSize: Int) {
        buffer = Array(repeating: nil, count: max(1, maxBatchSize))
    }

    /// Waits up to `timeoutMilliseconds` for a first message, then takes what else is already
    /// there without waiting (a batch call waits for a full batch or the timeout, which would
    /// add the whole timeout to latency under light load). Rebalance callbacks run in here.
    func read(_ queue: OpaquePointer, timeoutMilliseconds: Int32) -> [KafkaConsumerEvent] {
        let count = buffer.withUnsafeMutableBufferPointer { slots -> Int in
            let first = rd_kafka_consume_batch_queue(queue, timeoutMilliseconds, slots.baseAddress, 1)
            guard first == 1, slots.count > 1 else { return first }
            let rest = rd_kafka_consume_batch_queue(queue, 0, slots.baseAddress! + 1, slots.count - 1)
            return rest < 0 ? 1 : 1 + rest
        }
        if count < 0 { return [.error(.from(rd_kafka_last_error(), "consume"))] }
        var events: [KafkaConsumerEvent] = []
        var records: [ConsumerRecord] = []
        records.reserveCapacity(count)
        for index in 0..<count {
            guard let message = buffer[index] else { continue }
            defer { rd_kafka_message_destroy(message) }
            let m = message.pointee
            if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                records.append(record(message))
                continue
            }
            // An error or end-of-partition: flush records first so the order is kept.
            if !records.isEmpty {
                events.append(.records(records))
                records = []
            }
            let partition = TopicPartition(m.rkt.map(topicName) ?? "", m.partition)
            if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                events.append(.endOfPartition(partition, offset: m.offset))
            } else {
                let detail = String(cString: rd_kafka_message_errstr(message))
                events.append(.error(.from(m.err, "consume \(partition)", detail: detail)))
            }
        }
        if !records.isEmpty { events.append(.records(records)) }
        return events
    }

    private func topicName(_ topic: OpaquePointer) -> String {
        if let name = topicNames[topic] { return name }
        let name = String(cString: rd_kafka_topic_name(topic))
        topicNames[topic] = name
        return name
    }

    private func record(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> ConsumerRecord {
        let m = message.pointee
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        return ConsumerRecord(
            topic: topicName(m.rkt),
            partition: m.partition,
            offset: m.offset,
            key: m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) },
            value: m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) },
            headers: headers(message),
            timestamp: timestamp >= 0 ? timestamp : nil
        )
    }

    private func headers(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var headers: [KafkaHeader] = []
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        var index = 0
        while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "",
                                       value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
            index += 1
        }
        return headers
    }
}
