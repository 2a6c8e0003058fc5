import Foundation
import Kafka
import Testing

extension WorkerSuites {
    /// The engine under faults, on the local broker with worker and driver processes.
    @Suite(.serialized) struct FaultTests {
        /// YCSB-T with 50% transfers on two workers; every few seconds a random worker is
        /// killed with SIGKILL and replaced. Afterwards every request has exactly one outcome,
        /// the sum of balances is conserved, every account answers (no lock is held) and every
        /// transaction's last logged step is an outcome (none is left in flight).
        @Test(arguments: ["2pc", "saga"])
        func workersKilledOverAndOverLoseNothing(protocol: String) async throws {
            let ycsb = try await YCSBScenario.make("kills-\(`protocol`)")
            var workers = try (0..<2).map { try ycsb.worker("kills-\($0)") }
            let driver = try ycsb.driver("kills-driver", output: ycsb.output, [
                "--records", "1000", "--rate", "200", "--seconds", "40", "--transfer", "50", "--read", "25", "--update", "25",
                "--protocol", `protocol`,
            ])
            try await eventually("the run phase", seconds: 120) { driver.log.contains("run:") }

            var generator = SystemRandomNumberGenerator()
            var recoveries: [Duration] = []
            for kill in 1...5 {
                try await Task.sleep(for: .seconds(3))
                let victim = Int.random(in: 0..<workers.count, using: &generator)
                let survivor = workers[1 - victim]
                let recoveredBefore = survivor.recoveredPartitions
                let killedAt = ContinuousClock.now
                workers[victim].kill()
                let replacement = try ycsb.worker("kills-replacement-\(kill)")
                workers[victim] = replacement
                // Recovered: every key partition has been recovered again since the kill.
                try await eventually("the partitions recovered after kill \(kill)", seconds: 60) {
                    survivor.recoveredPartitions - recoveredBefore + replacement.recoveredPartitions >= 4
                }
                recoveries.append(ContinuousClock.now - killedAt)
            }

            try await eventually("the driver to finish", seconds: 300) { !driver.process.isRunning }
            let results = try ycsb.results(in: ycsb.output)
            let checks = results.checks
            #expect(checks.unanswered == 0, "no request is lost")
            #expect(checks.conflictingOutcomes == 0, "no request has two outcomes")
            #expect(checks.unreadAccounts == 0, "every account answers afterwards: no lock is held")
            #expect(checks.balanceTotal == checks.expectedBalanceTotal, "the sum of balances is conserved")
            #expect(Set(results.statuses.keys).isSubset(of: ["200", "409", "422"]), "statuses: \(results.statuses)")
            #expect(driver.process.terminationStatus == 0, "the driver's checks pass: \(driver.log)")

            let inFlight = try await Self.transactionsWithoutOutcome(ycsb.id)
            #expect(inFlight.isEmpty, "transactions left in flight: \(inFlight.prefix(5))")

            let seconds = recoveries.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }.sorted()
            print(String(format: "kills %@: 5 kills survived, %d requests, statuses %@, %d lost, %d with two outcomes, %d repeated response records, recovery p50 %.1f s, max %.1f s",
                         `protocol`, checks.requests, "\(results.statuses)", checks.unanswered, checks.conflictingOutcomes,
                         checks.repeatedResponses, seconds[seconds.count / 2], seconds.last ?? 0))
            for worker in workers { worker.terminate() }
        }

        /// The transactions on the transaction log without an outcome.
        static func transactionsWithoutOutcome(_ id: String) async throws -> [String] {
            struct Step: Decodable { var transaction: String; var state: String }
            let log = try TopicReader("\(id)-transactions", partitions: 4)
            defer { Task { await log.close() } }
            try await eventually("the transaction log") { !log.records.isEmpty }
            try await Task.sleep(for: .seconds(2))
            // A repeat of an earlier step may come after the outcome, so look for any outcome.
            var ended: [String: Bool] = [:]
            for record in log.records {
                let step = try JSONDecoder().decode(Step.self, from: Data(record.valueText.utf8))
                ended[step.transaction, default: false] = ended[step.transaction, default: false]
                    || ["committed", "failed", "aborted"].contains(step.state)
            }
            return ended.filter { !$0.value }.map(\.key)
        }
    }
}
