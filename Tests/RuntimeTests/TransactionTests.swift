import Foundation
import Bank
import Runtime
import StatefulFunctions
import YCSB
import Testing

/// The coordinator, participant, lock and deadlock logic over several partitions in memory,
/// with a controlled clock and delivery order.
@Suite struct TransactionTests {
    typealias Response = Bank.Response
    let bank = Bank.application()

    func account(_ id: String) -> Address { Address(Bank.account, id) }

    /// Opens accounts with their balances and settles.
    func open(_ network: inout TestNetwork, _ balances: [String: Int]) throws {
        for (id, amount) in balances.sorted(by: { $0.key < $1.key }) {
            try network.inject(json: Bank.Change(op: "open", amount: amount), to: account(id))
        }
        network.run()
    }

    func transfer(_ network: inout TestNetwork, _ id: String, _ from: String, _ to: String, _ amount: Int,
                  saga: Bool = false) throws {
        let request = Bank.Request(request_id: id, op: "transfer", amount: amount, from: from, to: to,
                                   protocol: saga ? "saga" : "2pc")
        try network.inject(json: request, to: Bank.route(request)!)
    }

    func responses(_ network: TestNetwork) throws -> [String: Response] {
        Dictionary(try network.responses(Response.self, topic: Bank.responsesTopic).map { ($0.request_id, $0) },
                   uniquingKeysWith: { first, _ in first })
    }

    func balances(_ network: TestNetwork, _ ids: [String]) throws -> [Int] {
        try ids.map { try network.state(Bank.balance, of: account($0)) ?? -1 }
    }

    func expectQuiet(_ network: TestNetwork) {
        #expect(network.channels.isEmpty)
        #expect(network.cores.allSatisfy { $0.lockedAddressCount == 0 }, "a lock is still held")
        #expect(network.cores.allSatisfy { $0.busyCoordinatorCount == 0 }, "a transaction is still running")
    }

    func channel(_ from: Int32, _ to: Int32) -> TestNetwork.Channel { .init(from: from, to: to) }

    @Test func transferCommitsAcrossPartitions() throws {
        var network = TestNetwork(bank, partitions: 3, placement: ["a": 0, "b": 1, "t1": 2])
        try open(&network, ["a": 100, "b": 5])
        try transfer(&network, "t1", "a", "b", 30)
        network.run()
        #expect(try responses(network)["t1"] == Response(request_id: "t1", status: 200, from_balance: 70, to_balance: 35))
        #expect(try balances(network, ["a", "b"]) == [70, 35])
        #expect(network.statistics.committed == 1)
        expectQuiet(network)
    }

    /// A transaction that starts and ends within one epoch leaves no lock, coordinator or timer
    /// entry in that epoch's record, and only its outcome on the log topic; recovery from such
    /// records is exact. One that spans epochs records its entries.
    @Test func aTransactionWithinOneEpochLeavesNoTransactionStateInItsRecord() throws {
        struct Step: Decodable { var state: String }
        var single = TestNetwork(bank, partitions: 1, settings: TransactionSettings(logTopic: "log"))
        try open(&single, ["a": 100, "b": 5])
        try transfer(&single, "t1", "a", "b", 30)
        single.run()
        let record = try #require(single.log[0]?.last)
        #expect(record.transactions.isEmpty)
        #expect(record.timersAdded.isEmpty && record.timersRemoved.isEmpty)
        #expect(record.states.count == 2, "both balances")
        let steps = try single.egress.filter { $0.topic == "log" }.map { try JSONDecoder().decode(Step.self, from: Data($0.value ?? [])) }
        #expect(steps.map(\.state) == ["committed"])
        try single.restart(0)
        #expect(try balances(single, ["a", "b"]) == [70, 35])
        try transfer(&single, "t2", "a", "b", 10)
        single.run()
        #expect(try balances(single, ["a", "b"]) == [60, 45])
        expectQuiet(single)

        var spread = TestNetwork(bank, partitions: 3, placement: ["a": 0, "b": 1, "t1": 2])
        try open(&spread, ["a": 100, "b": 5])
        try transfer(&spread, "t1", "a", "b", 30)
        spread.run()
        #expect(spread.log[0]!.contains { $0.transactions.contains { $0.kind == .lockChanges } }, "a's lock is held across epochs")
        #expect(spread.log[2]!.contains { $0.transactions.contains { $0.kind == .coordinator } }, "t1 runs across epochs")
        #expect(spread.log[2]!.contains { !$0.timersAdded.isEmpty }, "t1's timeout is set in one epoch")
        try spread.restart(2)
        expectQuiet(spread)
    }

    @Test func insufficientFundsLeavesBothBalances() throws {
        var network = TestNetwork(bank, partitions: 3, placement: ["a": 0, "b": 1, "t1": 2])
        try open(&network, ["a": 10, "b": 5])
        try transfer(&network, "t1", "a", "b", 50)
        network.run()
        let response = try #require(try responses(network)["t1"])
        #expect(response.status == 422)
        #expect(response.reason == "422 insufficient funds in a")
        #expect(try balances(network, ["a", "b"]) == [10, 5])
        #expect(network.statistics.failed == 1)
        expectQuiet(network)
    }

    /// Coordinators log each step on the log topic as JSON keyed by transaction id; ids and
    /// reasons with quotes, backslashes and newlines stay readable.
    @Test func coordinatorsLogEachStepAsJSON() throws {
        struct Step: Decodable, Equatable {
            var transaction: String
            var coordinator: String
            var `protocol`: String
            var attempt: Int
            var state: String
            var participants: [String]
            var reason: String?
            var code: String?
        }
        var network = TestNetwork(bank, partitions: 3, settings: TransactionSettings(logTopic: "log"))
        let odd = "o\"d\\d\n"
        try open(&network, ["a": 100, "b": 5, odd: 1])
        try transfer(&network, "t1", "a", "b", 30)
        try transfer(&network, "t\"2", odd, "b", 50)
        network.run()
        let steps = try network.egress.filter { $0.topic == "log" }.map { record in
            let step = try JSONDecoder().decode(Step.self, from: Data(record.value ?? []))
            #expect(record.key == Array(step.transaction.utf8))
            return step
        }
        let first = try #require(steps.first { $0.coordinator == "\(Address(Bank.transfer, "t1"))" })
        let second = try #require(steps.first { $0.coordinator == "\(Address(Bank.transfer, "t\"2"))" })
        #expect(steps.filter { $0.transaction == first.transaction }.map(\.state) == ["started", "committed"])
        #expect(steps.filter { $0.transaction == second.transaction }.map(\.state) == ["started", "failed"])
        #expect(Set(first.participants) == ["\(account("a"))", "\(account("b"))"])
        #expect(first.protocol == "2pc" && first.reason == nil && first.code == nil)
        let failed = steps.last { $0.transaction == second.transaction }
        #expect(failed?.reason == "422 insufficient funds in \(odd)")
        #expect(failed?.code == "insufficient-funds", "the participant's error code travels with its no vote")
    }

    /// A rebalance can switch the path between two partitions while messages are in flight,
    /// so that an abort arrives before the prepare it withdraws.
    @Test func anAbortThatOvertakesItsPrepareLeavesNoLockBehind() throws {
        var network = TestNetwork(bank, partitions: 3, placement: ["a": 0, "b": 1, "t1": 2, "t2": 2])
        try open(&network, ["a": 10, "b": 5])
        try transfer(&network, "t1", "a", "b", 50)
        network.deliver(channel(2, 0))  // a votes no
        network.deliver(channel(0, 2))  // the coordinator aborts at b, whose prepare is still in flight
        #expect(network.inFlight[channel(2, 1)]?.count == 2)
        network.inFlight[channel(2, 1)]!.reverse()
        network.run()
        #expect(try responses(network)["t1"]?.status == 422)
        #expect(try balances(network, ["a", "b"]) == [10, 5])
        expectQuiet(network)
        try transfer(&network, "t2", "b", "a", 3)
        network.run()
        #expect(try responses(network)["t2"]?.status == 200)
        #expect(try balances(network, ["a", "b"]) == [13, 2])
    }

    @Test func unknownAccountIsAnExplicitFailure() throws {
        var network = TestNetwork(bank, partitions: 3, placement: ["a": 0, "nobody": 1, "t1": 2])
        try open(&network, ["a": 10])
        try transfer(&network, "t1", "a", "nobody", 5)
        network.run()
        #expect(try responses(network)["t1"]?.status == 404)
        #expect(try balances(network, ["a"]) == [10])
        expectQuiet(network)
    }

    @Test func aMessageToALockedAddressWaitsForTheCommit() throws {
        var network = TestNetwork(bank, partitions: 3, placement: ["a": 0, "b": 1, "t1": 2])
        try open(&network, ["a": 100, "b": 0])
        try transfer(&network, "t1", "a", "b", 30)
        network.deliver(channel(2, 0))  // a is prepared and locked
        try network.inject(json: Bank.Change(op: "deposit", amount: 5, request_id: "d1"), to: account("a"))
        #expect(try responses(network)["d1"] == nil, "ran while locked")
        network.run()
        #expect(try responses(network)["d1"]?.balance == 75, "ran before the commit")
        #expect(try balances(network, ["a", "b"]) == [75, 30])
        expectQuiet(network)
    }

    @Test func aPrepareThatWaitsForALockIsTimedFromQueueToGrant() throws {
        var network = TestNetwork(bank, partitions: 3, placement: ["a": 0, "b": 1, "t1": 2, "t2": 2])
        try open(&network, ["a": 100, "b": 0])
        try transfer(&network, "t1", "a", "b", 10)
        try transfer(&network, "t2", "a", "b", 20)
        network.run()
        #expect(try responses(network).values.map(\.status) == [200, 200])
        #expect(network.statistics.lockWaits.count == 2, "t2 waited for t1 at a and at b")
        #expect(network.statistics.lockWaits.allSatisfy { $0 >= 0 })
        expectQuiet(network)
    }

    @Test func twoTransactionCycleHasOneVictimAndBothCommit() throws {
        var network = TestNetwork(bank, partitions: 4, placement: ["a": 0, "b": 1, "t1": 2, "t2": 3])
        try open(&network, ["a": 100, "b": 100])
        try transfer(&network, "t1", "a", "b", 10)
        try transfer(&network, "t2", "b", "a", 20)
        network.deliver(channel(2, 0))  // t1 locks a
        network.deliver(channel(3, 1))  // t2 locks b
        network.deliver(channel(2, 1))  // t1 waits for t2 at b
        network.deliver(channel(3, 0))  // t2 waits for t1 at a: a cycle
        network.settle()
        let statistics = network.statistics
        #expect(statistics.deadlocks == 1)
        #expect(statistics.detectionLatencies.count == 1)
        #expect(statistics.committed == 2)
        #expect(try responses(network).values.map(\.status).sorted() == [200, 200])
        #expect(try balances(network, ["a", "b"]) == [110, 90])
        expectQuiet(network)
    }

    @Test func threeTransactionCycleHasOneVictim() throws {
        var network = TestNetwork(bank, partitions: 6, placement: ["a": 0, "b": 1, "c": 2, "t1": 3, "t2": 4, "t3": 5])
        try open(&network, ["a": 100, "b": 100, "c": 100])
        try transfer(&network, "t1", "a", "b", 1)
        try transfer(&network, "t2", "b", "c", 2)
        try transfer(&network, "t3", "c", "a", 3)
        for (from, to) in [(3, 0), (4, 1), (5, 2), (3, 1), (4, 2), (5, 0)] as [(Int32, Int32)] {
            network.deliver(channel(from, to))
        }
        network.settle()
        #expect(network.statistics.deadlocks == 1)
        #expect(network.statistics.committed == 3)
        #expect(try balances(network, ["a", "b", "c"]) == [102, 99, 99])
        expectQuiet(network)
    }

    @Test func anUndecidedTransactionTimesOut() throws {
        var network = TestNetwork(bank, partitions: 3, placement: ["a": 0, "b": 1, "t1": 2],
                                  settings: TransactionSettings(timeoutMilliseconds: 500))
        try open(&network, ["a": 100, "b": 0])
        try transfer(&network, "t1", "a", "b", 30)
        network.deliver(channel(2, 0))  // the prepare for b stays in flight
        network.advance(by: 400)
        #expect(try responses(network)["t1"] == nil)
        network.advance(by: 200)
        #expect(try responses(network)["t1"]?.status == 409)
        #expect(network.statistics.timeouts == 1)
        network.run()
        #expect(try balances(network, ["a", "b"]) == [100, 0])
        expectQuiet(network)
    }

    @Test func sagaCompensatesTheWithdrawalWhenTheDepositFails() throws {
        var network = TestNetwork(bank, partitions: 3, placement: ["a": 0, "nobody": 1, "s1": 2])
        try open(&network, ["a": 100])
        try transfer(&network, "s1", "a", "nobody", 30, saga: true)
        #expect(network.channels == [channel(2, 0)], "the deposit waits for the withdrawal's stage")
        network.deliver(channel(2, 0))  // the withdrawal completes
        #expect(try balances(network, ["a"]) == [70])
        network.deliver(channel(0, 2))  // the coordinator starts the deposit's stage
        network.deliver(channel(2, 1))  // the deposit fails: unknown account
        network.deliver(channel(1, 2))
        #expect(try responses(network)["s1"] == nil, "reported only once compensated")
        network.run()
        #expect(try responses(network)["s1"]?.status == 404)
        #expect(try balances(network, ["a"]) == [100])
        #expect(network.statistics.failed == 1)
        expectQuiet(network)
    }

    /// A refused withdrawal ends a staged saga before its deposit; a one-stage saga deposits at
    /// once, another transfer spends the deposit, and taking it back leaves a negative balance.
    @Test func onlyAOneStageSagaCanLeaveABalanceNegative() throws {
        // The bank's accounts, with a saga coordinator that runs both steps in one stage.
        var oneStage = Bank.application()
        oneStage.bindCoordinator("test/transfer", protocol: .saga) { _, message in
            let request = try message.decode(Bank.Request.self)
            let change = { (op: String) in try Message(json: Bank.Change(op: op, amount: request.amount)) }
            return TransactionPlan([
                TransactionInvocation(Address(Bank.account, request.from!), try change("withdraw"), compensation: try change("deposit")),
                TransactionInvocation(Address(Bank.account, request.to!), try change("deposit"), compensation: try change("revert-deposit")),
            ])
        } outcome: { _, _ in }
        var network = TestNetwork(oneStage, partitions: 3, placement: ["poor": 0, "b": 1, "c": 2, "s1": 2, "s2": 0])
        try open(&network, ["poor": 0, "b": 0, "c": 0])
        for request in [Bank.Request(request_id: "s1", op: "transfer", amount: 50, from: "poor", to: "b", protocol: "saga"),
                        Bank.Request(request_id: "s2", op: "transfer", amount: 50, from: "b", to: "c", protocol: "saga")] {
            try network.inject(json: request, to: Address("test/transfer", request.request_id))
        }
        network.deliver(channel(2, 1))  // s1's deposit into b
        network.deliver(channel(0, 1))  // s2 withdraws it from b
        network.run()
        #expect(try balances(network, ["poor", "b", "c"]) == [0, -50, 50], "the compensation took back a spent deposit")

        var staged = TestNetwork(bank, partitions: 3, placement: ["poor": 0, "b": 1, "c": 2, "s1": 2, "s2": 0])
        try open(&staged, ["poor": 0, "b": 0, "c": 0])
        try transfer(&staged, "s1", "poor", "b", 50, saga: true)
        try transfer(&staged, "s2", "b", "c", 50, saga: true)
        staged.run()
        #expect(try balances(staged, ["poor", "b", "c"]) == [0, 0, 0])
        #expect(try responses(staged).mapValues(\.status) == ["s1": 422, "s2": 422])
    }

    @Test func sagaCommits() throws {
        var network = TestNetwork(bank, partitions: 3, placement: ["a": 0, "b": 1, "s1": 2])
        try open(&network, ["a": 100, "b": 1])
        try transfer(&network, "s1", "a", "b", 30, saga: true)
        network.run()
        #expect(try responses(network)["s1"] == Response(request_id: "s1", status: 200, from_balance: 70, to_balance: 31))
        expectQuiet(network)
    }

    @Test func theSameAddressTwiceTakesOneLock() throws {
        var network = TestNetwork(bank, partitions: 2, placement: ["a": 0, "t1": 1])
        try open(&network, ["a": 100])
        try transfer(&network, "t1", "a", "a", 40)
        network.run()
        #expect(try responses(network)["t1"] == Response(request_id: "t1", status: 200, from_balance: 60, to_balance: 100))
        #expect(try balances(network, ["a"]) == [100])
        expectQuiet(network)
    }

    @Test func emptyPlansCompleteAndUnknownTypesFail() throws {
        var app = Application(name: "plans")
        app.bindCoordinator("test/coordinator", protocol: .twoPhaseCommit) { _, message in
            message.text == "empty" ? TransactionPlan([]) : TransactionPlan([TransactionInvocation(Address("nope/missing", "x"), message)])
        } outcome: { context, outcome in
            let text = switch outcome.status {
            case .committed: "committed"
            case .failed(let failure): "failed \(failure.code ?? "without a code"): \(failure.reason)"
            case .retryableAbort(let reason): "retry: \(reason)"
            }
            context.egress(EgressRecord(topic: "outcomes", key: outcome.request.text, value: text))
        }
        var network = TestNetwork(app, partitions: 2)
        network.inject(Message(text: "empty"), to: Address("test/coordinator", "c1"))
        network.inject(Message(text: "bad"), to: Address("test/coordinator", "c2"))
        network.run()
        let texts = Dictionary(uniqueKeysWithValues: network.egress.map { ($0.keyText!, $0.valueText!) })
        #expect(texts["empty"] == "committed")
        #expect(texts["bad"] == "failed unknown-function-type: no function is bound to type nope/missing")
        expectQuiet(network)
    }

    @Test func readOnlyInvocationsShareTheLock() throws {
        var app = Bank.application()
        app.bindCoordinator("test/audit", protocol: .twoPhaseCommit) { _, _ in
            TransactionPlan([TransactionInvocation(Address(Bank.account, "a"), try Message(json: Bank.Change(op: "balance")),
                                                   readOnly: true)])
        } outcome: { context, outcome in
            context.egress(EgressRecord(topic: "audits", key: context.address.id, value: outcome.results[0]?.text ?? "-"))
        }
        var network = TestNetwork(app, partitions: 3, placement: ["a": 0, "x1": 1, "x2": 2])
        try open(&network, ["a": 100])
        network.inject(Message(text: "{}"), to: Address("test/audit", "x1"))
        network.inject(Message(text: "{}"), to: Address("test/audit", "x2"))
        network.deliver(channel(1, 0))
        network.deliver(channel(2, 0))
        // Both prepared at once: both votes are on their way before either commits.
        #expect(network.inFlight[channel(0, 1)]?.count == 1)
        #expect(network.inFlight[channel(0, 2)]?.count == 1)
        network.run()
        #expect(network.egress.filter { $0.topic == "audits" }.map(\.valueText) == ["100", "100"])
        expectQuiet(network)
    }

    @Test func aTransactionSurvivesItsParticipantAndCoordinatorRestarting() throws {
        var network = TestNetwork(bank, partitions: 3, placement: ["a": 0, "b": 1, "t1": 2])
        try open(&network, ["a": 100, "b": 0])
        try transfer(&network, "t1", "a", "b", 30)
        network.deliver(channel(2, 0))  // a prepared, its vote in flight
        for partition: Int32 in [0, 2] { try network.restart(partition) }
        #expect(network.cores[0].lockedAddressCount == 1)
        #expect(network.cores[2].busyCoordinatorCount == 1)
        network.run()
        #expect(try responses(network)["t1"]?.status == 200)
        #expect(try balances(network, ["a", "b"]) == [70, 30])
        expectQuiet(network)
    }

    @Test(arguments: [1, 2] as [UInt64])
    func concurrentTransfersOverHotAccountsConserveTheSum(seed: UInt64) throws {
        for saga in [false, true] {
            var network = TestNetwork(bank, partitions: 4)
            let ids = (0..<10).map { "acct\($0)" }
            try open(&network, Dictionary(uniqueKeysWithValues: ids.map { ($0, 100) }))
            var generator = SplitMix64(state: seed)
            for index in 0..<300 {
                let from = ids.randomElement(using: &generator)!, to = ids.randomElement(using: &generator)!
                try transfer(&network, "t\(index)", from, to, Int.random(in: 1...60, using: &generator), saga: saga)
            }
            // Half-way, with long lock queues, every partition restarts from its checkpoint log.
            for _ in 0..<500 {
                guard let channel = network.channels.randomElement(using: &generator) else { break }
                network.deliver(channel)
            }
            #expect(network.cores.contains { $0.lockedAddressCount > 0 } || saga, "the restart happens with locks held")
            for partition: Int32 in 0..<4 { try network.restart(partition) }
            network.settle(&generator)
            let answered = try responses(network)
            print("seed \(seed) saga \(saga): deadlocks \(network.statistics.deadlocks), messages \(network.delivered)")
            #expect(network.statistics.timeouts == 0, "deadlocks are found before any transaction times out")
            #expect(answered.count == 300, "answered \(answered.count)")
            #expect(answered.values.allSatisfy { [200, 422].contains($0.status) })
            #expect(try balances(network, ids).reduce(0, +) == 1_000)
            // Staged sagas withdraw before they deposit: no compensation takes a balance below zero.
            #expect(try balances(network, ids).allSatisfy { $0 >= 0 })
            expectQuiet(network)
        }
    }
}
