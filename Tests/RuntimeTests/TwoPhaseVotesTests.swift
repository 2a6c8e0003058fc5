@testable import Runtime
import StatefulFunctions
import Testing

/// The vote rules of a two-phase commit, event by event.
struct TwoPhaseVotesTests {
    static let account: TypeName = "test/account"
    static let a = Address(account, "a"), b = Address(account, "b"), c = Address(account, "c")

    static func votes(_ invocations: [(Address, Bool)]) -> TwoPhaseVotes {
        TwoPhaseVotes(invocations: invocations.map { TransactionInvocation($0.0, Message(text: "op"), readOnly: $0.1) })
    }

    @Test func invocationsOfOneAddressMakeOneParticipant() {
        let votes = Self.votes([(Self.a, true), (Self.b, true), (Self.a, false)])
        #expect(votes.participants.map(\.address) == [Self.a, Self.b])
        #expect(votes.participants[0].invocations == [0, 2])
        #expect(votes.participants[0].readOnly == false, "one write makes the participant a writer")
        #expect(votes.participants[1].readOnly)
        #expect(votes.start() == [.prepare(0), .prepare(1)])
    }

    @Test func theLastYesCommitsEveryone() {
        var votes = Self.votes([(Self.a, false), (Self.b, false)])
        #expect(votes.vote(of: Self.b, yes: true) == [])
        #expect(votes.vote(of: Self.b, yes: true) == [], "a repeated vote counts once")
        #expect(votes.awaitedInvocations(of: Self.a) == [0])
        #expect(votes.awaitedInvocations(of: Self.b) == nil)
        #expect(votes.vote(of: Self.a, yes: true) == [.commit(Self.a), .commit(Self.b), .finish])
    }

    @Test func aNoAbortsEveryoneElseAtOnce() {
        var votes = Self.votes([(Self.a, false), (Self.b, false), (Self.c, false)])
        _ = votes.vote(of: Self.a, yes: true)
        #expect(votes.vote(of: Self.b, yes: false) == [.abort(Self.a), .abort(Self.c), .finish],
                "the one that said no holds nothing; the one yet to vote may be waiting for its lock")
        #expect(votes.vote(of: Self.c, yes: true) == [], "a vote after the decision changes nothing")
        #expect(votes.vote(of: Self.c, yes: false) == [])
    }

    @Test func aVoteOfAnAddressOutsideTheTransactionIsIgnored() {
        var votes = Self.votes([(Self.a, false)])
        #expect(votes.vote(of: Self.b, yes: true) == [])
        #expect(votes.awaitedInvocations(of: Self.b) == nil)
    }

    @Test func aRetryForgetsTheVotesAndPreparesAgain() {
        var votes = Self.votes([(Self.a, false), (Self.b, false)])
        _ = votes.vote(of: Self.a, yes: true)
        #expect(votes.aborts() == [.abort(Self.a), .abort(Self.b)])
        #expect(votes.retry() == [.prepare(0), .prepare(1)])
        #expect(votes.participants.allSatisfy { $0.votedYes == nil })
        #expect(votes.vote(of: Self.a, yes: true) == [], "the new attempt needs every vote again")
    }

    @Test func givingUpAbortsAndFinishes() {
        var votes = Self.votes([(Self.a, false), (Self.b, false)])
        _ = votes.vote(of: Self.a, yes: true)
        #expect(votes.abandon() == [.abort(Self.a), .abort(Self.b), .finish])
    }
}
