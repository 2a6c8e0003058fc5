import Foundation

/// Functions served over HTTP by an Apache Flink StateFun SDK (Python, Java, Go, JavaScript),
/// spoken to with StateFun's request-reply protocol. The engine keeps their state, queues their
/// invocations and applies what they return; the endpoint computes.
public struct RemoteEndpoint: Sendable {
    /// Which function types the endpoint serves.
    public enum Functions: Sendable, Hashable, CustomStringConvertible {
        /// One function type.
        case type(TypeName)
        /// Every type of a namespace (`com.example/*` in a module file).
        case namespace(String)

        /// Whether `type` is one of these.
        public func contains(_ type: TypeName) -> Bool {
            switch self {
            case .type(let served): served == type
            case .namespace(let namespace): type.namespace == namespace
            }
        }

        /// Written as in a module file: `namespace/name` or `namespace/*`.
        public var description: String {
            switch self {
            case .type(let type): type.description
            case .namespace(let namespace): "\(namespace)/*"
            }
        }
    }

    /// The function types served.
    public var functions: Functions
    /// Where to post invocations; `{function.name}` is replaced by the type's name.
    public var urlTemplate: String
    /// At most this many invocations of one address go in one request; past it, the partition
    /// takes no more ingress records until the address's queue is shorter.
    public var maxBatchSize: Int
    /// How long one batch may take, retries included, before its invocations go to the
    /// dead-letter topic.
    public var callTimeoutMilliseconds: Int64

    /// An endpoint serving `functions` at `urlTemplate`, with StateFun's defaults otherwise
    /// (1,000 invocations per batch, 2 minutes per call).
    public init(functions: Functions, urlTemplate: String, maxBatchSize: Int = 1_000, callTimeoutMilliseconds: Int64 = 120_000) {
        self.functions = functions
        self.urlTemplate = urlTemplate
        self.maxBatchSize = max(1, maxBatchSize)
        self.callTimeoutMilliseconds = max(1, callTimeoutMilliseconds)
    }

    /// The URL invocations of `type` are posted to.
    public func url(for type: TypeName) -> String {
        urlTemplate.replacingOccurrences(of: "{function.name}", with: type.name)
    }
}
