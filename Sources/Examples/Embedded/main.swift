// Runs the engine inside your own executable: your Swift functions and remote functions served
// by a StateFun SDK, as one application, as a swift-service-lifecycle service.
//
//   swift run embedded-worker 127.0.0.1:9092 http://127.0.0.1:8000/statefun
//
// Records on `orders` (key: a customer id, value: JSON) go to the Swift function `shop/customer`,
// which forwards each to the remote function `shop/fraud` (any `shop/fraud` served at the URL,
// in Python, Java, Go or JavaScript). Whatever the remote function sends to `shop/customer`
// comes back as a message with its StateFun type name.
import Logging
import ServiceLifecycle
import StatefulFunctions
import UnixSignals
import Worker

let arguments = CommandLine.arguments
let bootstrap = arguments.count > 1 ? arguments[1] : "127.0.0.1:9092"
let endpointURL = arguments.count > 2 ? arguments[2] : "http://127.0.0.1:8000/statefun"

let orders = ValueSpec<Int>("orders")
var application = Application(name: "shop")
application.bind("shop/customer", states: [orders]) { context, message in
    if message.typeName == nil {
        // An order from Kafka: count it, and let the remote function look at it.
        try context.set(orders, (try context.get(orders) ?? 0) + 1)
        var forwarded = message
        forwarded.typeName = "shop/Order"
        context.send(forwarded, to: Address("shop/fraud", context.address.id))
    } else {
        // The remote function's verdict, a StateFun string (`str_value` in Python).
        let verdict = message.statefunString ?? "a \(message.typeName ?? "")"
        context.egress(EgressRecord(topic: "verdicts", key: context.address.id, value: verdict))
    }
}
application.bindRemote(RemoteEndpoint(functions: .namespace("shop"), urlTemplate: endpointURL))
application.ingress(IngressBinding(topic: "orders", type: "shop/customer"))
application.egress(topic: "verdicts")

let logger = Logger(label: "shop")
let worker = Worker(application: application, configuration: WorkerConfiguration(bootstrapServers: bootstrap, applicationID: "shop"),
                    logger: logger)
let services = ServiceGroup(configuration: .init(services: [.init(service: worker)], gracefulShutdownSignals: [.sigterm, .sigint],
                                                 logger: logger))
try await services.run()
