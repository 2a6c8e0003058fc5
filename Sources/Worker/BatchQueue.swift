/// Items that arrive in batches and are taken a few at a time, in order. The batches are kept
/// as they came (no copying into one array). A partition task keeps the records it has been
/// handed in one, so that a large fetch does not hold up the epochs' closes and releases until
/// all of it is processed.
struct BatchQueue<Element> {
    private var batches: [[Element]] = []
    /// How much of `batches[0]` was taken.
    private var taken = 0

    var isEmpty: Bool { batches.isEmpty }

    mutating func append(_ batch: [Element]) {
        if !batch.isEmpty { batches.append(batch) }
    }

    /// The next items in order: at most `limit`, and none past the end of a batch.
    mutating func take(_ limit: Int) -> ArraySlice<Element> {
        guard let first = batches.first else { return [] }
        let end = min(first.count, taken + limit)
        defer {
            if end == first.count {
                batches.removeFirst()
                taken = 0
            } else {
                taken = end
            }
        }
        return first[taken..<end]
    }

    /// Drops every item; returns how many there were.
    mutating func removeAll() -> Int {
        defer { (batches, taken) = ([], 0) }
        return batches.reduce(0) { $0 + $1.count } - taken
    }
}
