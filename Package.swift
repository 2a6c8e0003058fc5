// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "swift-stateful-functions",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "StatefulFunctions", targets: ["StatefulFunctions"]),
        .library(name: "StatefulFunctionsTesting", targets: ["StatefulFunctionsTesting"]),
        // The engine, to run an application in your own executable (see Sources/Examples/Embedded).
        .library(name: "StatefulFunctionsWorker", targets: ["Worker"]),
        // Serves swift-metrics through Prometheus on an HTTP port (statefun-worker --metrics-port).
        .library(name: "StatefulFunctionsMetricsEndpoint", targets: ["MetricsEndpoint"]),
        .executable(name: "kafka-roundtrip", targets: ["KafkaRoundTrip"]),
        .executable(name: "statefun-worker", targets: ["StatefunWorker"]),
        .executable(name: "ycsb-driver", targets: ["YCSBDriver"]),
        .executable(name: "embedded-worker", targets: ["EmbeddedWorker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // librdkafka, found through pkg-config (scripts/bootstrap.sh installs >= 2.1 into /usr/local).
        .systemLibrary(
            name: "CRDKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // Swift Kafka client: producer, consumer, admin. Knows nothing about functions.
        .target(
            name: "Kafka",
            dependencies: ["CRDKafka", .product(name: "Logging", package: "swift-log")]
        ),
        // SDK: addresses, messages, state, context, applications. No Kafka here. Every program
        // built on it allocates through jemalloc on Linux (see docs/design.md).
        .target(name: "StatefulFunctions", linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]),
        // Engine logic without I/O: partitions, epochs, checkpoint records, timers, routing.
        .target(name: "Runtime", dependencies: ["StatefulFunctions"]),
        // Runs an application in-process, without Kafka, for tests of functions.
        .target(name: "StatefulFunctionsTesting", dependencies: ["StatefulFunctions", "Runtime"]),
        // The engine on Kafka: consumer group, partition tasks, checkpoint log, recovery.
        .target(
            name: "Worker",
            dependencies: [
                "Kafka", "Runtime", "StatefulFunctions",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(
            name: "MetricsEndpoint",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(name: "Greeter", dependencies: ["StatefulFunctions"], path: "Sources/Examples/Greeter"),
        .target(name: "Bank", dependencies: ["StatefulFunctions"], path: "Sources/Examples/Bank"),
        .target(name: "YCSB", dependencies: ["StatefulFunctions"], path: "Sources/Examples/YCSB"),
        .executableTarget(
            name: "StatefunWorker",
            dependencies: [
                "Worker", "MetricsEndpoint", "Kafka", "Greeter", "Bank", "YCSB", "StatefulFunctions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "EmbeddedWorker",
            dependencies: [
                "Worker", "StatefulFunctions",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Examples/Embedded"
        ),
        .executableTarget(
            name: "YCSBDriver",
            dependencies: [
                "Kafka", "YCSB", "StatefulFunctions", "MetricsEndpoint",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "KafkaRoundTrip",
            dependencies: ["Kafka", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "KafkaThroughput",
            dependencies: ["Kafka", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/KafkaThroughput"
        ),
        .executableTarget(
            name: "YCSBEcho",
            dependencies: [
                "Kafka", "StatefulFunctions", "YCSB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/YCSBEcho"
        ),
        .executableTarget(
            name: "InvocationThroughput",
            dependencies: ["Runtime", "StatefulFunctions", "YCSB", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/InvocationThroughput"
        ),
        .executableTarget(
            name: "WorkerThroughput",
            dependencies: [
                "Worker", "MetricsEndpoint", "Kafka", "StatefulFunctions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Benchmarks/WorkerThroughput"
        ),
        .executableTarget(
            name: "HotAccounts",
            dependencies: [
                "Worker", "Kafka", "Bank", "StatefulFunctions", "YCSB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/HotAccounts"
        ),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "StatefulFunctions", "Bank", "YCSB"]),
        .testTarget(
            name: "WorkerTests",
            dependencies: [
                "Worker", "Runtime", "Kafka", "Greeter", "Bank", "StatefulFunctions",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "StatefulFunctionsTests", dependencies: ["StatefulFunctions", "StatefulFunctionsTesting", "Greeter"]),
        .testTarget(name: "YCSBTests", dependencies: ["YCSB", "StatefulFunctions", "StatefulFunctionsTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
