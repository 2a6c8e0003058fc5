/// Keeps a reader from moving past records the broker has not shown it yet.
///
/// On the local broker, a fetch can return a batch while an earlier batch, written at the
/// same time by another producer, is not visible yet; the consumer then moves past the
/// earlier one and never reads it. The offsets of a topic written without transactions or
/// compaction have no gaps, so a record after a gap means records were skipped: the reader
/// drops what comes after the gap and fetches again from the offset it expects, at most once
/// per `interval`. A gap still there after `attempts` intervals is real (records the broker
/// lost, transaction markers, compaction): the reader fetches from the first record after
/// it and takes that one.
///
/// Every record dropped after a gap has a fetch scheduled after it, so that reading goes on
/// even when nothing new is written to the partition: the records a fetch brings back, if
/// they still come after the gap, schedule the next fetch.
public struct OffsetGapGuard: Sendable {
    /// What to do with a record, as `check` decides.
    public enum Verdict: Equatable, Sendable {
        /// The record is the expected one (or nothing is expected yet): read it.
        case take
        /// The first record after a gap found real: read it.
        case takeAfterGap
        /// A repeat of a record already read, or a record after a gap that a scheduled fetch
        /// brings again: drop it.
        case drop
        /// Drop the record and fetch again from `offset`, not before `at`.
        case refetch(from: Int64, at: ContinuousClock.Instant)
    }

    private struct Gap {
        /// The offset expected when the gap was seen.
        var at: Int64
        /// The lowest offset seen after it.
        var firstAfter: Int64
        /// When it was seen first.
        var since: ContinuousClock.Instant
        /// When the latest fetch scheduled for it is due: records after the gap until then
        /// were fetched before it and are dropped.
        var lastFetch: ContinuousClock.Instant
        var real = false
    }

    /// How many `interval`s a gap may stay open before it counts as real. Default 5.
    public var attempts = 5
    /// The least time between two fetches for the same gap. Default 200 ms.
    public var interval: Duration = .milliseconds(200)
    private var gaps: [TopicPartition: Gap] = [:]

    /// A guard with no open gaps, `attempts` and `interval` at their defaults.
    public init() {}

    /// Whether to read the record at `offset` of `partition`, when the reader expects
    /// `expected` next (nil: anything).
    public mutating func check(_ partition: TopicPartition, offset: Int64, expected: Int64?,
                               now: ContinuousClock.Instant = .now) -> Verdict {
        guard let expected, offset != expected else {
            // Called for every record: the map is touched only while a gap is open.
            if !gaps.isEmpty { gaps[partition] = nil }
            return .take
        }
        if offset < expected { return .drop }
        guard var gap = gaps[partition], gap.at == expected else {
            gaps[partition] = Gap(at: expected, firstAfter: offset, since: now, lastFetch: now)
            return .refetch(from: expected, at: now)
        }
        gap.firstAfter = min(gap.firstAfter, offset)
        // Fetched before the scheduled fetch was made: that fetch brings it again.
        if now <= gap.lastFetch {
            gaps[partition] = gap
            return .drop
        }
        if gap.real, offset == gap.firstAfter {
            gaps[partition] = nil
            return .takeAfterGap
        }
        gap.lastFetch = max(now, gap.lastFetch + interval)
        if gap.lastFetch - gap.since >= interval * attempts { gap.real = true }
        gaps[partition] = gap
        return .refetch(from: gap.real ? gap.firstAfter : expected, at: gap.lastFetch)
    }
}

extension KafkaConsumer {
    /// Hands this consumer's records to `body`, in offset order per partition and without
    /// gaps (see `OffsetGapGuard`), until its events end (it is closed or the calling task is
    /// cancelled). `start` holds where the assigned partitions start; `skipped` hears where
    /// records were skipped and are read again.
    public func readWithoutGaps(
        startingAt start: [TopicPartitionOffset], skipped: (TopicPartitionOffset) -> Void = { _ in },
        _ body: ([ConsumerRecord]) -> Void
    ) async {
        var expected: [TopicPartition: Int64] = [:]
        for offset in start where offset.offset >= 0 { expected[offset.topicPartition] = offset.offset }
        var gaps = OffsetGapGuard()
        for await event in events {
            guard case .records(let records) = event else { continue }
            var taken: [ConsumerRecord] = []
            // The rest of a partition's records after a fetch again come again.
            var fetchedAgain: Set<TopicPartition> = []
            for record in records where !fetchedAgain.contains(record.topicPartition) {
                let partition = record.topicPartition
                switch gaps.check(partition, offset: record.offset, expected: expected[partition]) {
                case .take, .takeAfterGap:
                    expected[partition] = record.offset + 1
                    taken.append(record)
                case .drop:
                    continue
                case .refetch(let offset, let at):
                    let from = TopicPartitionOffset(partition, offset: offset)
                    skipped(from)
                    fetchedAgain.insert(partition)
                    try? await Task.sleep(until: at)
                    try? await seek([from])
                }
            }
            if !taken.isEmpty { body(taken) }
        }
    }
}
