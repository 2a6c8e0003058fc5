import Kafka
import Runtime
import StatefulFunctions

/// A record fetched for a partition task. An ingress record comes with where it goes, worked
/// out by the dispatcher as it hands the record over, so that decoding it to find its address
/// runs beside the task instead of on it.
struct FetchedRecord: Sendable {
    let record: ConsumerRecord
    /// The ingress record and its route; nil for a record of the internal topic.
    let ingress: (record: IngressRecord, route: IngressRoute)?

    init(_ record: ConsumerRecord, configuration: WorkerConfiguration, application: Application) {
        self.record = record
        guard record.topic != configuration.internalTopic else {
            ingress = nil
            return
        }
        let headers = record.headers.map { RecordHeader(key: $0.key, value: $0.value ?? []) }
        let ingress = IngressRecord(topic: record.topic, key: record.key, value: record.value, headers: headers)
        self.ingress = (ingress, PartitionCore.route(ingress, application: application, maxRecordBytes: configuration.maxRecordBytes))
    }
}
