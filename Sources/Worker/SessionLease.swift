import Dispatch
import Foundation
import Synchronization

/// Whether this worker may still write for its partitions: its group membership is a lease
/// that lapses when the worker stops answering the group for too long.
///
/// The group gives a worker's partitions to others once it has sent no heartbeat for the
/// session timeout. A worker frozen that long (SIGSTOP, a paused VM, a starved host) and then
/// resumed does not know at once that it lost them, and would go on writing checkpoints and
/// releasing outputs for partitions another worker now runs. A watch thread ticks every 50 ms;
/// a gap between ticks longer than the session timeout minus one heartbeat interval (the
/// longest silence after which the group still surely counts the worker in) ends the lease
/// for good. Every record the worker's producers hand to librdkafka asks `refusal()` first
/// (`KafkaProducerConfiguration.fence`), which also refuses while the watch has not ticked for
/// that long, so that no record slips out in the instant after a resume before the watch runs.
/// Records handed to librdkafka before the freeze still go out after it.
final class SessionLease: Sendable {
    /// The longest silence that keeps the lease, in nanoseconds.
    let limitNanoseconds: UInt64
    private let clock: @Sendable () -> UInt64
    private let lapsed: @Sendable (_ silenceMilliseconds: UInt64) -> Void
    private let lastTick: Atomic<UInt64>
    /// How long the silence that ended the lease lasted, in nanoseconds; 0 while it holds.
    private let lapsedAfter = Atomic<UInt64>(0)
    private let running = Atomic<Bool>(false)

    /// `sessionTimeoutMilliseconds` as given to the group; heartbeats go every third of it.
    /// `clock` gives monotonic nanoseconds. `lapsed` is called once, when the lease ends.
    init(sessionTimeoutMilliseconds: Int, clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
         lapsed: @escaping @Sendable (_ silenceMilliseconds: UInt64) -> Void) {
        limitNanoseconds = UInt64(sessionTimeoutMilliseconds) * 2 / 3 * 1_000_000
        self.clock = clock
        self.lapsed = lapsed
        lastTick = Atomic(clock())
    }

    /// Starts the watch thread, which ticks every 50 ms (more often for a limit under 200 ms)
    /// until `stop`.
    func start() {
        running.store(true, ordering: .relaxed)
        let interval = useconds_t(min(50_000, limitNanoseconds / 4_000))
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                usleep(interval)
                tick()
            }
        }
        thread.name = "statefun-group-lease"
        thread.start()
    }

    func stop() { running.store(false, ordering: .relaxed) }

    /// Why nothing may be written any more, or nil while the lease holds.
    func refusal() -> String? {
        let tick = lastTick.load(ordering: .acquiring)
        let lapsed = lapsedAfter.load(ordering: .acquiring)
        if lapsed > 0 { return "this worker was silent for \(lapsed / 1_000_000) ms, longer than its group session allows" }
        let silence = clock() &- tick
        // A tick taken after `clock()` was read (on another core) is no silence.
        if silence < UInt64.max / 2, silence > limitNanoseconds {
            return "this worker has been silent for \(silence / 1_000_000) ms, longer than its group session allows"
        }
        return nil
    }

    /// Records a tick of the watch; the first silence too long ends the lease.
    func tick() {
        let now = clock()
        let silence = now &- lastTick.load(ordering: .relaxed)
        // The end is stored before the tick that follows it, so that a reader who sees the
        // fresh tick also sees the end.
        let ends = silence > limitNanoseconds
            && lapsedAfter.compareExchange(expected: 0, desired: silence, ordering: .releasing).exchanged
        lastTick.store(now, ordering: .releasing)
        if ends { lapsed(silence / 1_000_000) }
    }
}
