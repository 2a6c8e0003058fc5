import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Serves the process's swift-metrics in Prometheus's text format on `GET /metrics`. Run it in
/// the worker's `ServiceGroup`; it stops on graceful shutdown.
public struct MetricsEndpoint: Service {
    private let registry: PrometheusCollectorRegistry
    private let host: String
    private let port: Int
    private let logger: Logger

    /// Serves `registry` on `host:port` (port 0: any free port, logged when bound).
    public init(registry: PrometheusCollectorRegistry, host: String = "0.0.0.0", port: Int, logger: Logger) {
        self.registry = registry
        self.host = host
        self.port = port
        self.logger = logger
    }

    /// Makes Prometheus the process's metrics backend (`MetricsSystem.bootstrap`, which a process
    /// may call once, before its first metric) and returns the endpoint that serves it.
    public static func bootstrap(host: String = "0.0.0.0", port: Int, logger: Logger) -> MetricsEndpoint {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(factory(registry: registry))
        return MetricsEndpoint(registry: registry, host: host, port: port, logger: logger)
    }

    /// A Prometheus factory for `registry` with buckets that suit the engine's figures: durations
    /// from 1 ms to 30 s, batch and epoch sizes from 1 to 10,000.
    public static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000]
            .map { Duration.milliseconds($0) }
        factory.defaultValueHistogramBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000]
        return factory
    }

    public func run() async throws {
        let registry = registry
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHandler(registry: registry))
                }
            }
            .bind(host: host, port: port).get()
        logger.info("metrics endpoint listening", metadata: ["statefun.port": "\(channel.localAddress?.port ?? port)"])
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

/// Answers `GET /metrics` with the registry's text, anything else with 404.
private final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let found = head.method == .GET && head.uri.split(separator: "?").first == "/metrics"
            let body = found ? registry.emitToBuffer() : Array("GET /metrics\n".utf8)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4" : "text/plain")
            headers.add(name: "Content-Length", value: "\(body.count)")
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            let response = HTTPResponseHead(version: head.version, status: found ? .ok : .notFound, headers: headers)
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            let channel = context.channel, keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
            self.head = nil
        }
    }
}
