import Foundation

/// Picks record numbers in 0..<count: uniformly, or zipfian with skew `theta` (item 0 the
/// most popular), after Gray et al., "Quickly generating billion-record synthetic
/// databases", as YCSB does.
struct KeyChooser {
    enum Distribution: String, CaseIterable {
        case uniform, zipfian
    }

    private let count: Int
    private let zipf: (theta: Double, alpha: Double, zetaN: Double, eta: Double)?

    init(count: Int, distribution: Distribution, theta: Double = 0.99) {
        self.count = count
        guard distribution == .zipfian else {
            zipf = nil
            return
        }
        let zetaN = Self.zeta(count, theta)
        let zeta2 = Self.zeta(2, theta)
        let eta = (1 - pow(2 / Double(count), 1 - theta)) / (1 - zeta2 / zetaN)
        zipf = (theta, 1 / (1 - theta), zetaN, eta)
    }

    private static func zeta(_ n: Int, _ theta: Double) -> Double {
        (1...max(1, n)).reduce(0) { $0 + 1 / pow(Double($1), theta) }
    }

    func next(using generator: inout some RandomNumberGenerator) -> Int {
        guard let zipf else { return Int.random(in: 0..<count, using: &generator) }
        let u = Double.random(in: 0..<1, using: &generator)
        let uz = u * zipf.zetaN
        if uz < 1 { return 0 }
        if uz < 1 + pow(0.5, zipf.theta) { return min(1, count - 1) }
        return min(count - 1, Int(Double(count) * pow(zipf.eta * u - zipf.eta + 1, zipf.alpha)))
    }
}
