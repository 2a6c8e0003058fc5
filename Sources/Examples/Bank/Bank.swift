import StatefulFunctions

/// A bank: accounts are plain functions; transfers are coordinators, one written as a 2PC
/// transaction and one as a saga, over the same account function.
///
/// Ingress `bank-requests`, JSON values (the key is not used):
///   `{"request_id": "r1", "op": "open", "account": "alice", "amount": 100}`
///   `{"request_id": "r2", "op": "balance", "account": "alice"}`
///   `{"request_id": "r3", "op": "transfer", "from": "alice", "to": "bob", "amount": 30, "protocol": "2pc"}`
///   (`protocol`: `2pc`, the default, or `saga`).
/// Egress `bank-responses`, key = request id, JSON values:
///   `{"request_id": "r3", "status": 200, "from_balance": 70, "to_balance": 30}`
/// with status 200 done, 404 unknown account, 422 insufficient funds, 409 aborted and retryable.
public enum Bank {
    public static let account: TypeName = "bank/account"
    public static let transfer: TypeName = "bank/transfer"
    public static let sagaTransfer: TypeName = "bank/saga-transfer"
    public static let balance = ValueSpec<Int>("balance")
    public static let requestsTopic = "bank-requests"
    public static let responsesTopic = "bank-responses"

    public struct Request: Codable, Sendable {
        public var request_id: String
        public var op: String
        public var account: String?
        public var amount: Int?
        public var from: String?
        public var to: String?
        public var `protocol`: String?

        public init(request_id: String, op: String, account: String? = nil, amount: Int? = nil, from: String? = nil,
                    to: String? = nil, protocol: String? = nil) {
            self.request_id = request_id
            self.op = op
            self.account = account
            self.amount = amount
            self.from = from
            self.to = to
            self.protocol = `protocol`
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var request_id: String
        public var status: Int
        public var balance: Int?
        public var from_balance: Int?
        public var to_balance: Int?
        public var reason: String?

        public init(request_id: String, status: Int, balance: Int? = nil, from_balance: Int? = nil, to_balance: Int? = nil,
                    reason: String? = nil) {
            self.request_id = request_id
            self.status = status
            self.balance = balance
            self.from_balance = from_balance
            self.to_balance = to_balance
            self.reason = reason
        }
    }

    /// A change to one account: what participants of a transfer receive.
    public struct Change: Codable, Sendable {
        public var op: String
        public var amount: Int?
        public var request_id: String?

        public init(op: String, amount: Int? = nil, request_id: String? = nil) {
            self.op = op
            self.amount = amount
            self.request_id = request_id
        }
    }

    /// The error an account throws. Its code reaches a transfer's outcome (see `CodedError`),
    /// which answers with the code's status; its description starts with that status.
    public enum Refusal: CodedError, CustomStringConvertible {
        case unknownAccount(String)
        case insufficientFunds(String)

        public var code: String {
            switch self {
            case .unknownAccount: "unknown-account"
            case .insufficientFunds: "insufficient-funds"
            }
        }

        public var status: Int { Self.status(code: code) }

        /// The response status of a refusal with this code; 400 (a bad request) for any other.
        public static func status(code: String?) -> Int {
            switch code {
            case "unknown-account": 404
            case "insufficient-funds": 422
            default: 400
            }
        }

        public var description: String {
            switch self {
            case .unknownAccount(let id): "404 unknown account \(id)"
            case .insufficientFunds(let id): "422 insufficient funds in \(id)"
            }
        }
    }

    public static func application(requestsTopic: String = requestsTopic, responsesTopic: String = responsesTopic) -> Application {
        var app = Application(name: "bank")
        app.bind(account, states: [balance]) { context, message in
            let change = try message.decode(Change.self)
            let current = try context.get(balance)
            let updated = try apply(change, to: current, of: context.address.id)
            if updated != current { try context.set(balance, updated) }
            if context.caller != nil {
                // Called by a coordinator (or another function): the new balance is the result.
                try context.reply(Message(json: updated))
            } else if let requestID = change.request_id {
                context.egress(try response(Response(request_id: requestID, status: 200, balance: updated), topic: responsesTopic))
            }
        }
        // A plain request refused by the account still gets its answer.
        app.handle(Refusal.self) { context, refusal, message in
            guard let requestID = (try? message.decode(Change.self))?.request_id else { return }
            context.egress(try response(Response(request_id: requestID, status: refusal.status, reason: refusal.description),
                                        topic: responsesTopic))
        }
        let outcome: OutcomeBody = { context, outcome in
            context.egress(try response(answer(outcome), topic: responsesTopic))
        }
        app.bindCoordinator(transfer, protocol: .twoPhaseCommit, plan: { _, message in try plan(message, saga: false) }, outcome: outcome)
        app.bindCoordinator(sagaTransfer, protocol: .saga, plan: { _, message in try plan(message, saga: true) }, outcome: outcome)

        app.ingress(.decoding(Request.self, topic: requestsTopic, target: route))
        app.egress(topic: responsesTopic)
        return app
    }

    /// The balance of account `id` after `change`; `current` is nil for an account never opened.
    private static func apply(_ change: Change, to current: Int?, of id: String) throws -> Int {
        let amount = change.amount ?? 0
        func opened() throws -> Int {
            guard let current else { throw Refusal.unknownAccount(id) }
            return current
        }
        switch change.op {
        case "open":
            return amount
        case "balance":
            return try opened()
        case "deposit":
            return try checked(try opened().addingReportingOverflow(amount))
        case "withdraw":
            let balance = try opened()
            guard balance >= amount else { throw Refusal.insufficientFunds(id) }
            return balance - amount
        case "revert-deposit":
            // A compensation must succeed. The staged transfer never runs this one (its deposit is
            // the last stage); a one-stage saga's could leave the balance negative.
            return try checked(try opened().subtractingReportingOverflow(amount))
        default:
            throw StatefulFunctionError(.messageDecoding, "unknown account operation \(change.op)")
        }
    }

    /// A transfer's plan. 2PC withdraws and deposits at once under locks; the saga withdraws
    /// first and deposits second, so a deposit is never taken back and no balance goes below zero.
    private static func plan(_ message: Message, saga: Bool) throws -> TransactionPlan {
        let (from, to, amount) = try transferParts(try message.decode(Request.self))
        let change = { (op: String) in try Message(json: Change(op: op, amount: amount)) }
        guard saga else {
            return TransactionPlan([TransactionInvocation(Address(account, from), try change("withdraw")),
                                    TransactionInvocation(Address(account, to), try change("deposit"))])
        }
        return TransactionPlan(stages: [
            [TransactionInvocation(Address(account, from), try change("withdraw"), compensation: try change("deposit"))],
            [TransactionInvocation(Address(account, to), try change("deposit"), compensation: try change("revert-deposit"))],
        ])
    }

    /// The response to a transfer, from its outcome.
    private static func answer(_ outcome: TransactionOutcome) throws -> Response {
        let request = try outcome.request.decode(Request.self)
        var answer = Response(request_id: request.request_id, status: 200)
        switch outcome.status {
        case .committed:
            answer.from_balance = try outcome.results[0]?.decode(Int.self)
            answer.to_balance = try outcome.results[1]?.decode(Int.self)
        case .failed(let failure):
            answer.status = Refusal.status(code: failure.code)
            answer.reason = failure.reason
        case .retryableAbort(let reason):
            answer.status = 409
            answer.reason = reason
        }
        return answer
    }

    /// Where a request goes: transfers to a coordinator keyed by request id, the rest to the account.
    public static func route(_ request: Request) -> Address? {
        if request.op == "transfer" {
            return Address(request.protocol == "saga" ? sagaTransfer : transfer, request.request_id)
        }
        return request.account.map { Address(account, $0) }
    }

    static func transferParts(_ request: Request) throws -> (String, String, Int) {
        guard let from = request.from, let to = request.to, let amount = request.amount, amount >= 0 else {
            throw StatefulFunctionError(.messageDecoding, "a transfer needs from, to and a non-negative amount")
        }
        return (from, to, amount)
    }

    /// The result of a balance change, unless it overflows: a function must not trap, since
    /// that would stop the whole worker.
    static func checked(_ result: (partialValue: Int, overflow: Bool)) throws -> Int {
        guard !result.overflow else { throw StatefulFunctionError(.messageDecoding, "amount too large") }
        return result.partialValue
    }

    static func response(_ response: Response, topic: String) throws -> EgressRecord {
        EgressRecord(topic: topic, key: Array(response.request_id.utf8), value: try Message(json: response).payload)
    }
}
