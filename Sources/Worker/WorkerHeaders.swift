/// Header names the worker writes on egress and dead-letter records.
public enum WorkerHeaders {
    /// Stable id of an egress record: `partition-epoch-index`. A repeat has the same id.
    public static let id = "statefun-id"
    public static let reason = "statefun-reason"
    public static let reasonText = "statefun-reason-text"
    public static let origin = "statefun-origin"
}
