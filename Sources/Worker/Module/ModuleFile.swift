import Foundation
import StatefulFunctions
import Yams

/// An application described in Apache Flink StateFun 3.x's module format: a multi-document
/// YAML file of HTTP endpoints (`io.statefun.endpoints.v2/http`), Kafka ingresses
/// (`io.statefun.kafka.v1/ingress`) and Kafka egresses (`io.statefun.kafka.v1/egress`).
public struct ModuleFile: Sendable {
    /// The application the file describes, named after the file.
    public var application: Application
    /// The broker addresses of the first ingress or egress, if any gives one.
    public var bootstrapServers: String?
    /// The consumer group of the first ingress that names one.
    public var consumerGroupID: String?

    /// Reads the module file at `path`.
    public static func load(path: String) throws(ModuleError) -> ModuleFile {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ModuleError("\(path): cannot be read: \(error.localizedDescription)")
        }
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try ModuleFile(yaml: text, source: path, name: name)
    }

    /// Parses a module file's text; `source` names it in errors.
    public init(yaml: String, source: String, name: String = "module") throws(ModuleError) {
        application = Application(name: name)
        var documents: [Any] = []
        do {
            let parser = try Parser(yaml: yaml)
            while let node = try parser.nextRoot() { documents.append(node.any) }
        } catch {
            throw ModuleError("\(source): not YAML: \(error)")
        }
        for (index, document) in documents.enumerated() where !(document is NSNull) {
            var reader = SpecReader(where: "\(source), document \(index + 1)", node: document)
            try read(&reader)
        }
    }

    private mutating func read(_ document: inout SpecReader) throws(ModuleError) {
        let kind = try document.string("kind")
        document.where += " (\(kind))"
        var spec = try document.mapping("spec")
        switch kind {
        case "io.statefun.endpoints.v2/http": try readEndpoint(spec)
        case "io.statefun.kafka.v1/ingress":
            try readAddress(spec)
            if consumerGroupID == nil { consumerGroupID = try spec.optionalString("consumerGroupId") }
            try readIngress(&spec)
        case "io.statefun.kafka.v1/egress":
            _ = try spec.typeName("id")
            try readAddress(spec)
        default:
            throw document.error("kind", "\"\(kind)\" is not one of io.statefun.endpoints.v2/http, io.statefun.kafka.v1/ingress, io.statefun.kafka.v1/egress")
        }
    }

    private mutating func readAddress(_ spec: SpecReader) throws(ModuleError) {
        if bootstrapServers == nil { bootstrapServers = try spec.optionalString("address") }
    }

    private mutating func readEndpoint(_ spec: SpecReader) throws(ModuleError) {
        let pattern = try spec.string("functions")
        let functions: RemoteEndpoint.Functions
        if pattern.hasSuffix("/*") {
            let namespace = String(pattern.dropLast(2))
            guard !namespace.isEmpty, !namespace.contains("*") else { throw spec.error("functions", "\"\(pattern)\" has no namespace") }
            functions = .namespace(namespace)
        } else {
            functions = .type(try spec.typeName("functions"))
        }
        let template = try spec.string("urlPathTemplate")
        guard URL(string: template.replacingOccurrences(of: "{function.name}", with: "f"))?.scheme?.hasPrefix("http") == true else {
            throw spec.error("urlPathTemplate", "\"\(template)\" is not an http or https URL")
        }
        var endpoint = RemoteEndpoint(functions: functions, urlTemplate: template)
        if let batch = try spec.optionalInt("maxNumBatchRequests") {
            guard batch >= 1 else { throw spec.error("maxNumBatchRequests", "must be at least 1, got \(batch)") }
            endpoint.maxBatchSize = batch
        }
        if let transport = try spec.optionalMapping("transport"), let call = try transport.optionalDuration("call") {
            guard call > 0 else { throw transport.error("call", "must be longer than 0 ms") }
            endpoint.callTimeoutMilliseconds = call
        }
        application.bindRemote(endpoint)
    }

    private mutating func readIngress(_ spec: inout SpecReader) throws(ModuleError) {
        _ = try spec.typeName("id")
        if let position = try spec.optionalMapping("startupPosition") {
            let type = try position.string("type")
            guard ["earliest", "group-offsets"].contains(type) else {
                throw position.error("type", "\"\(type)\" is not supported: a new application reads from the earliest offset, then from its checkpoints")
            }
        }
        let topics = try spec.list("topics")
        guard !topics.isEmpty else { throw spec.error("topics", "lists no topic") }
        for topic in topics {
            let name = try topic.string("topic")
            let valueType = try topic.string("valueType")
            guard (try? TypeName(parsing: valueType)) != nil else { throw topic.error("valueType", "\"\(valueType)\" is not of the form namespace/name") }
            let targets = try topic.list("targets")
            guard targets.count == 1, let target = targets.first else {
                throw topic.error("targets", "must list exactly one function type, lists \(targets.count)")
            }
            var binding = IngressBinding(topic: name, type: try target.typeName(nil), codec: .raw)
            binding.valueTypeName = valueType
            application.ingress(binding)
        }
    }
}

/// A module file that cannot be used: which file, document and field, and why.
public struct ModuleError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Reads fields of one YAML mapping (or, with a nil key, the node itself), naming the path in errors.
private struct SpecReader {
    var `where`: String
    let path: String
    let node: Any

    init(where: String, path: String = "", node: Any) {
        self.where = `where`
        self.path = path
        self.node = node
    }

    func error(_ key: String?, _ why: String) -> ModuleError {
        ModuleError("\(`where`): \(field(key)): \(why)")
    }

    private func field(_ key: String?) -> String {
        guard let key else { return path.isEmpty ? "document" : path }
        return path.isEmpty ? key : "\(path).\(key)"
    }

    private func value(_ key: String?) -> Any? {
        guard let key else { return node }
        return (node as? [String: Any])?[key]
    }

    private func required(_ key: String?) throws(ModuleError) -> Any {
        guard let value = value(key) else { throw error(key, "missing") }
        return value
    }

    func optionalString(_ key: String?) throws(ModuleError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value as? String else { throw error(key, "must be a string") }
        return text
    }

    func string(_ key: String?) throws(ModuleError) -> String {
        guard let text = try optionalString(key) else { throw error(key, "missing") }
        guard !text.isEmpty else { throw error(key, "is empty") }
        return text
    }

    func typeName(_ key: String?) throws(ModuleError) -> TypeName {
        let text = try string(key)
        do { return try TypeName(parsing: text) } catch { throw self.error(key, "\"\(text)\" is not of the form namespace/name") }
    }

    func optionalInt(_ key: String) throws(ModuleError) -> Int? {
        guard let value = value(key) else { return nil }
        guard let number = value as? Int else { throw error(key, "must be an integer") }
        return number
    }

    /// Milliseconds of a duration written `500ms`, `30s`, `2m`, `2min` or `1h` (a bare number is milliseconds).
    func optionalDuration(_ key: String) throws(ModuleError) -> Int64? {
        guard let value = value(key) else { return nil }
        if let number = value as? Int { return Int64(number) }
        guard let text = (value as? String)?.replacingOccurrences(of: " ", with: "").lowercased() else {
            throw error(key, "must be a duration such as 2m or 500ms")
        }
        let digits = text.prefix { $0.isNumber }
        let unit = text.dropFirst(digits.count)
        let scale: Int64? = switch unit {
        case "", "ms": 1
        case "s", "sec": 1_000
        case "m", "min": 60_000
        case "h": 3_600_000
        default: nil
        }
        guard let number = Int64(digits), let scale else { throw error(key, "\"\(text)\" is not a duration such as 2m or 500ms") }
        return number * scale
    }

    func mapping(_ key: String) throws(ModuleError) -> SpecReader {
        guard let mapping = try optionalMapping(key) else { throw error(key, "missing") }
        return mapping
    }

    func optionalMapping(_ key: String) throws(ModuleError) -> SpecReader? {
        guard let value = value(key) else { return nil }
        guard value is [String: Any] else { throw error(key, "must be a mapping") }
        return SpecReader(where: `where`, path: field(key), node: value)
    }

    func list(_ key: String) throws(ModuleError) -> [SpecReader] {
        guard let items = try required(key) as? [Any] else { throw error(key, "must be a list") }
        return items.enumerated().map { SpecReader(where: `where`, path: "\(field(key))[\($0.offset)]", node: $0.element) }
    }
}
