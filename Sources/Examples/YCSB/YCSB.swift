import Foundation
import StatefulFunctions

/// The YCSB-T application: accounts with a balance and ten text fields, read and updated one
/// at a time or moved between by transfer coordinators (2PC or saga). Its Kafka contract is
/// public: any client that produces `Request`s as JSON and reads `Response`s can use it.
public enum YCSB {
    public static let account: TypeName = "ycsb/account"
    public static let transfer: TypeName = "ycsb/transfer"
    public static let sagaTransfer: TypeName = "ycsb/saga-transfer"
    /// Answers a request that names itself but cannot be carried out (400).
    public static let rejection: TypeName = "ycsb/rejection"
    public static let balance = ValueSpec<Int>("balance")
    public static let fields = ValueSpec<[String: String]>("fields")
    public static let requestsTopic = "ycsb-requests"
    public static let responsesTopic = "ycsb-responses"
    public static let defaultBalance = 10_000

    /// A request: key = the account for insert, read and update; the request id for transfer.
    public struct Request: Codable, Sendable {
        public var request_id: String
        public var op: String
        public var key: String?
        public var fields: [String: String]?
        public var balance: Int?
        public var from: String?
        public var to: String?
        public var amount: Int?
        public var `protocol`: String?

        public init(request_id: String, op: String, key: String? = nil, fields: [String: String]? = nil, balance: Int? = nil,
                    from: String? = nil, to: String? = nil, amount: Int? = nil, protocol: String? = nil) {
            self.request_id = request_id
            self.op = op
            self.key = key
            self.fields = fields
            self.balance = balance
            self.from = from
            self.to = to
            self.amount = amount
            self.protocol = `protocol`
        }

        /// The Kafka key the contract asks for.
        public var recordKey: String { op == "transfer" ? request_id : key ?? request_id }
    }

    /// An account as `read` returns it.
    public struct Record: Codable, Sendable, Equatable {
        public var balance: Int
        public var fields: [String: String]

        public init(balance: Int, fields: [String: String]) {
            self.balance = balance
            self.fields = fields
        }
    }

    /// Exactly one per request, keyed by request id. Status 200 done, 404 unknown account,
    /// 422 transfer refused (insufficient funds), 409 aborted and retryable, 400 malformed.
    public struct Response: Codable, Sendable, Equatable {
        public var request_id: String
        public var op: String
        public var status: Int
        public var record: Record?
        public var reason: String?

        public init(request_id: String, op: String, status: Int, record: Record? = nil, reason: String? = nil) {
            self.request_id = request_id
            self.op = op
            self.status = status
            self.record = record
            self.reason = reason
        }
    }

    /// What a transfer coordinator asks of an account.
    /// A transfer's step at an account, as the text `OP AMOUNT` (e.g. `withdraw 42`): the
    /// coordinator writes two and each account reads one per transfer, so they skip JSON.
    struct Change {
        var op: String
        var amount: Int

        var message: Message { Message(bytes: Array(op.utf8) + [UInt8(ascii: " ")] + Array(String(amount).utf8)) }

        init(op: String, amount: Int) {
            self.op = op
            self.amount = amount
        }

        /// Read from the bytes as they are: every transfer reads two, so no `String` of the whole.
        init(_ message: Message) throws {
            let bytes = message.payload
            guard let space = bytes.firstIndex(of: UInt8(ascii: " ")), space > 0,
                  let amount = Int(String(decoding: bytes[(space + 1)...], as: UTF8.self))
            else { throw Refusal.malformed("bad account change \(message.text)") }
            self.init(op: String(decoding: bytes[..<space], as: UTF8.self), amount: amount)
        }
    }

    /// Why an account refuses. Its code reaches a transfer's outcome (see `CodedError`), which
    /// answers with the code's status; the description starts with that status.
    enum Refusal: CodedError, CustomStringConvertible {
        case unknownAccount(String)
        case insufficientFunds(String)
        case malformed(String)

        var code: String {
            switch self {
            case .unknownAccount: "unknown-account"
            case .insufficientFunds: "insufficient-funds"
            case .malformed: "malformed"
            }
        }

        var status: Int { Self.status(code: code) }

        /// The response status of a refusal with this code; 400 (a bad request) for any other.
        static func status(code: String?) -> Int {
            switch code {
            case "unknown-account": 404
            case "insufficient-funds": 422
            default: 400
            }
        }

        var description: String {
            switch self {
            case .unknownAccount(let key): "404 unknown account \(key)"
            case .insufficientFunds(let key): "422 insufficient funds in \(key)"
            case .malformed(let why): "400 \(why)"
            }
        }
    }

    /// With `transactions` false no coordinator is bound and transfers are answered 400: the
    /// baseline for measuring what transaction support costs reads and updates.
    public static func application(requestsTopic: String = requestsTopic, responsesTopic: String = responsesTopic,
                                   transactions: Bool = true) -> Application {
        var app = Application(name: "ycsb")
        @Sendable func respond(_ context: Context, _ response: Response) throws {
            context.egress(EgressRecord(topic: responsesTopic, key: Array(response.request_id.utf8), value: try Message(json: response).payload))
        }

        app.bind(account, states: [balance, fields]) { context, message in
            try runAccount(context, message, respond: respond)
        }
        // A refused plain request still gets its answer.
        app.handle(Refusal.self) { context, refusal, message in
            guard let request = try? message.decode(Request.self) else { return }
            try respond(context, Response(request_id: request.request_id, op: request.op, status: refusal.status, reason: refusal.description))
        }
        app.bind(rejection) { context, message in
            guard let request = try? message.decode(Request.self) else {
                // Only its id could be read.
                let id = try message.decode(RequestID.self).request_id
                return try respond(context, Response(request_id: id, op: "", status: 400, reason: "malformed request: \(problem(message))"))
            }
            try respond(context, Response(request_id: request.request_id, op: request.op, status: 400,
                                          reason: validationError(request) ?? "transactions are disabled"))
        }

        let outcome: OutcomeBody = { context, outcome in
            // A transfer's coordinator is addressed by its request id (see `route`): nothing to decode.
            var response = Response(request_id: context.address.id, op: "transfer", status: 200)
            switch outcome.status {
            case .committed:
                break
            case .failed(let failure):
                response.status = Refusal.status(code: failure.code)
                response.reason = failure.reason
            case .retryableAbort(let reason):
                response.status = 409
                response.reason = reason
            }
            try respond(context, response)
        }
        if transactions {
            app.bindCoordinator(transfer, protocol: .twoPhaseCommit, plan: plan(saga: false), outcome: outcome)
            app.bindCoordinator(sagaTransfer, protocol: .saga, plan: plan(saga: true), outcome: outcome)
        }

        // Decoded once, here: the account or coordinator it goes to gets the decoded request.
        app.ingress(.decoding(Request.self, topic: requestsTopic, target: { request in
            // Without a request id there is nobody to answer: the record goes to the dead letters.
            guard !request.request_id.isEmpty else { return nil }
            return transactions || request.op != "transfer" ? route(request) : Address(rejection, request.request_id)
        }, undecodable: { record in
            // Malformed, but with an id to answer: the rejection function answers 400.
            guard let id = try? Message(bytes: record.value ?? []).decode(RequestID.self).request_id, !id.isEmpty else { return nil }
            return Address(rejection, id)
        }))
        app.egress(topic: responsesTopic)
        return app
    }

    /// An account: `insert`, `read` and `update` from a request, or a step of a transfer from its
    /// coordinator (then the new balance is the result).
    static func runAccount(_ context: Context, _ message: Message, respond: (Context, Response) throws -> Void) throws {
        let key = context.address.id
        if context.caller != nil {
            // A step of a transfer: the new balance is the result.
            let change = try Change(message)
            guard let current = try context.get(balance) else { throw Refusal.unknownAccount(key) }
            let updated: Int
            switch change.op {
            case "withdraw":
                guard current >= change.amount else { throw Refusal.insufficientFunds(key) }
                updated = current - change.amount
            case "deposit":
                updated = try checked(current.addingReportingOverflow(change.amount))
            case "reverse-deposit":
                // A compensation must succeed. The staged transfer never runs this one (its deposit
                // is the last stage); a one-stage saga's could leave the balance below zero.
                updated = try checked(current.subtractingReportingOverflow(change.amount))
            default:
                throw Refusal.malformed("unknown account change \(change.op)")
            }
            try context.set(balance, updated)
            // The same bytes as JSON for an integer.
            return try context.reply(Message(text: "\(updated)"))
        }
        let request = try message.decode(Request.self)
        var response = Response(request_id: request.request_id, op: request.op, status: 200)
        switch request.op {
        case "insert":
            try context.set(balance, request.balance ?? defaultBalance)
            try context.set(fields, request.fields ?? [:])
        case "read":
            guard let current = try context.get(balance) else { throw Refusal.unknownAccount(key) }
            response.record = Record(balance: current, fields: try context.get(fields) ?? [:])
        case "update":
            guard try context.get(balance) != nil else { throw Refusal.unknownAccount(key) }
            try context.set(fields, (try context.get(fields) ?? [:]).merging(request.fields ?? [:]) { $1 })
        default:
            throw Refusal.malformed("unknown op \(request.op)")
        }
        try respond(context, response)
    }

    /// A transfer's plan: withdraw from `from`, deposit to `to`; as a saga, in two stages.
    static func plan(saga: Bool) -> PlanBody {
        { _, message in
            let request = try message.decode(Request.self)
            let (from, to, amount) = (request.from!, request.to!, request.amount!)
            let withdraw = Change(op: "withdraw", amount: amount).message
            let deposit = Change(op: "deposit", amount: amount).message
            guard saga else {
                return TransactionPlan([TransactionInvocation(Address(account, from), withdraw),
                                        TransactionInvocation(Address(account, to), deposit)])
            }
            // Withdraw first, deposit second: a deposit is never taken back, so no balance goes below zero.
            return TransactionPlan(stages: [
                [TransactionInvocation(Address(account, from), withdraw, compensation: deposit)],
                [TransactionInvocation(Address(account, to), deposit, compensation: Change(op: "reverse-deposit", amount: amount).message)],
            ])
        }
    }

    /// The result of a balance change, unless it overflows: a function must not trap, since
    /// that would stop the whole worker.
    static func checked(_ result: (partialValue: Int, overflow: Bool)) throws -> Int {
        guard !result.overflow else { throw Refusal.malformed("amount too large") }
        return result.partialValue
    }

    /// The request id of a request that does not decode otherwise.
    struct RequestID: Decodable {
        var request_id: String
    }

    /// Where a request goes: a transfer to its coordinator, other ops to the account, and a
    /// request that cannot be carried out to the rejection function, which answers 400.
    public static func route(_ request: Request) -> Address {
        if validationError(request) != nil { return Address(rejection, request.request_id) }
        switch request.op {
        case "transfer": return Address(request.protocol == "saga" ? sagaTransfer : transfer, request.request_id)
        default: return Address(account, request.key!)
        }
    }

    /// What is wrong with a request that does not decode, in a few words.
    static func problem(_ message: Message) -> String {
        func path(_ context: DecodingError.Context, _ key: CodingKey? = nil) -> String {
            (context.codingPath + (key.map { [$0] } ?? [])).map(\.stringValue).joined(separator: ".")
        }
        let error: DecodingError
        do {
            _ = try JSONDecoder().decode(Request.self, from: Data(message.payload))
            return "not a request"
        } catch let decoding as DecodingError {
            error = decoding
        } catch {
            return "not a request"
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context)) must be \(type == String.self ? "a string" : "\(type)")"
        case .valueNotFound(_, let context): return "\(path(context)) is null"
        case .keyNotFound(let key, let context): return "\(path(context, key)) is missing"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not JSON" : "\(path(context)) is invalid"
        @unknown default: return "not a request"
        }
    }

    /// Why `request` cannot be carried out, if it cannot.
    static func validationError(_ request: Request) -> String? {
        switch request.op {
        case "insert", "read", "update":
            guard let key = request.key, !key.isEmpty else { return "\(request.op) needs a key" }
            if request.op == "insert", let start = request.balance, start < 0 { return "a starting balance cannot be negative" }
            return nil
        case "transfer":
            guard let from = request.from, let to = request.to, !from.isEmpty, !to.isEmpty else { return "a transfer needs from and to" }
            guard let amount = request.amount, amount > 0 else { return "a transfer needs a positive amount" }
            guard from != to else { return "a transfer needs two different accounts" }
            guard [nil, "2pc", "saga"].contains(request.protocol) else { return "unknown protocol \(request.protocol!)" }
            return nil
        default:
            return "unknown op \(request.op)"
        }
    }
}
