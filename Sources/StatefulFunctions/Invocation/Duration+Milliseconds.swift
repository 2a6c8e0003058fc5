extension Duration {
    /// The duration in whole milliseconds, rounded toward zero: how delays and timers count time.
    package var wholeMilliseconds: Int64 {
        components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
    }
}
