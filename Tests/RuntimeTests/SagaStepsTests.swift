@testable import Runtime
import Testing

/// The stage rules of a saga, event by event.
struct SagaStepsTests {
    @Test func stagesRunOneAfterTheOther() {
        var saga = SagaSteps(stageStarts: [0, 2], compensable: [true, true, true])
        #expect(saga.start() == [.run(0), .run(1)])
        #expect(saga.stepDone(1, failed: false) == [], "the second stage waits for the whole first one")
        #expect(saga.stepDone(0, failed: false) == [.run(2)])
        #expect(saga.stepDone(2, failed: false) == [.finish])
    }

    @Test func aFailureStartsNoLaterStage() {
        var saga = SagaSteps(stageStarts: [0, 1], compensable: [true, true])
        #expect(saga.start() == [.run(0)])
        #expect(saga.stepDone(0, failed: true) == [.finish], "nothing completed, nothing to compensate")
        #expect(saga.statuses == [.failed, .pending])
    }

    @Test func compensationsRunLatestStageFirst() {
        var saga = SagaSteps(stageStarts: [0, 1, 2], compensable: [true, true, true])
        _ = saga.start()
        _ = saga.stepDone(0, failed: false)
        _ = saga.stepDone(1, failed: false)
        #expect(saga.stepDone(2, failed: true) == [.compensate(1)], "stage 1 first")
        #expect(saga.compensated(0) == [], "step 0 is not being compensated yet")
        #expect(saga.compensated(1) == [.compensate(0)])
        #expect(saga.compensated(0) == [.finish])
        #expect(saga.statuses == [.compensated, .compensated, .failed])
    }

    @Test func aStageWaitsForItsRunningStepsBeforeTheOneBelowIsCompensated() {
        var saga = SagaSteps(stageStarts: [0, 1], compensable: [true, true, true])
        _ = saga.start()
        #expect(saga.stepDone(0, failed: false) == [.run(1), .run(2)])
        #expect(saga.stepDone(1, failed: true) == [], "step 2 still runs")
        #expect(saga.stepDone(2, failed: false) == [.compensate(2)], "a step that completes after the failure is undone")
        #expect(saga.compensated(2) == [.compensate(0)])
        #expect(saga.compensated(0) == [.finish])
    }

    @Test func stepsWithoutACompensationCountAsCompensated() {
        var saga = SagaSteps(stageStarts: [0, 1, 2], compensable: [true, false, true])
        _ = saga.start()
        _ = saga.stepDone(0, failed: false)
        _ = saga.stepDone(1, failed: false)
        #expect(saga.stepDone(2, failed: true) == [.compensate(0)], "stage 1 has nothing to undo")
        #expect(saga.compensated(0) == [.finish])
    }

    @Test func repeatsAndStrayReportsChangeNothing() {
        var saga = SagaSteps(stageStarts: [0, 1], compensable: [true, true])
        _ = saga.start()
        #expect(saga.stepDone(1, failed: false) == [], "step 1 has not started")
        #expect(saga.stepDone(0, failed: false) == [.run(1)])
        #expect(saga.stepDone(0, failed: true) == [], "a repeated report")
        #expect(saga.compensated(0) == [])
        #expect(saga.statuses == [.completed, .running])
    }
}
