import Kafka
import Metrics

/// Consumer lag per owned key partition and input topic: every second, from the positions each
/// partition task last published and the high watermarks the consumer last saw. A partition the
/// worker no longer runs loses its gauges.
enum LagMetrics {
    static func run(registry: TaskRegistry, inputs: InputControl, application: String, factory: any MetricsFactory) async {
        var gauges: [TopicPartition: Gauge] = [:]
        while !Task.isCancelled {
            var seen: Set<TopicPartition> = []
            for task in registry.runningTasks() {
                for (topic, lag) in inputs.lags(of: task.partition, positions: task.publishedPositions) {
                    let input = TopicPartition(topic, task.partition)
                    seen.insert(input)
                    if gauges[input] == nil {
                        gauges[input] = Gauge(label: "statefun_consumer_lag", dimensions: [
                            ("application", application), ("partition", "\(task.partition)"), ("topic", topic),
                        ], factory: factory)
                    }
                    gauges[input]!.record(lag)
                }
            }
            for (input, gauge) in gauges where !seen.contains(input) {
                gauge.destroy()
                gauges[input] = nil
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
