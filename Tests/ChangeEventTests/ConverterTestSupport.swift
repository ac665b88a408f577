import Testing
@testable import ChangeEvent

// Helpers for the pure converter tests: run a converter on a string and get JSON or the error.

enum Outcome: Equatable, CustomStringConvertible {
    case json(String)
    case failure(String)

    var description: String {
        switch self {
        case .json(let s): return s
        case .failure(let r): return "error: \(r)"
        }
    }

    var isFailure: Bool { if case .failure = self { return true } else { return false } }
}

/// Runs `body` on the UTF-8 of `text` (or raw bytes) and returns what it wrote, or its failure.
func run(_ bytes: [UInt8], _ body: (inout JSONOutput, UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Void) -> Outcome {
    var out = JSONOutput(capacity: 64)
    let failure: ConversionFailure? = bytes.withUnsafeBufferPointer { p in
        do throws(ConversionFailure) { try body(&out, p); return nil } catch { return error }
    }
    if let failure { return .failure(failure.reason) }
    return .json(utf8(out))
}

func run(_ text: String, _ body: (inout JSONOutput, UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Void) -> Outcome {
    run(Array(text.utf8), body)
}

/// Random byte strings biased towards `alphabet`, for no-crash loops.
func fuzzInputs(seed: UInt64, count: Int, alphabet: String, maxLength: Int = 48) -> [[UInt8]] {
    var rng = SeededGenerator(seed: seed)
    let letters = Array(alphabet.utf8)
    var inputs: [[UInt8]] = []
    inputs.reserveCapacity(count)
    for _ in 0..<count {
        let len = Int.random(in: 0...maxLength, using: &rng)
        var b: [UInt8] = []
        for _ in 0..<len {
            if Int.random(in: 0..<5, using: &rng) == 0 {
                b.append(UInt8.random(in: 0...255, using: &rng))
            } else {
                b.append(letters[Int.random(in: 0..<letters.count, using: &rng)])
            }
        }
        inputs.append(b)
    }
    return inputs
}

/// Mutations (replace / insert / delete / truncate) of valid seeds.
func mutations(of seeds: [String], seed: UInt64, count: Int, alphabet: String) -> [[UInt8]] {
    var rng = SeededGenerator(seed: seed)
    let letters = Array(alphabet.utf8)
    var out: [[UInt8]] = []
    for _ in 0..<count {
        var b = Array(seeds[Int.random(in: 0..<seeds.count, using: &rng)].utf8)
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0 where !b.isEmpty: b[Int.random(in: 0..<b.count, using: &rng)] = letters[Int.random(in: 0..<letters.count, using: &rng)]
            case 1: b.insert(letters[Int.random(in: 0..<letters.count, using: &rng)], at: Int.random(in: 0...b.count, using: &rng))
            case 2 where !b.isEmpty: b.remove(at: Int.random(in: 0..<b.count, using: &rng))
            default: b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng)))
            }
        }
        out.append(b)
    }
    return out
}

/// Asserts that every input either converts to valid JSON or fails cleanly (never traps), and
/// that failure reasons never contain the input. Returns (successes, failures).
@discardableResult
func expectNoCrash(_ inputs: [[UInt8]], _ body: (inout JSONOutput, UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Void) -> (Int, Int) {
    var ok = 0, failed = 0
    for input in inputs {
        switch run(input, body) {
        case .json(let s):
            ok += 1
            #expect(isValidJSON(Array(s.utf8)), "\(input) -> \(s)")
        case .failure(let reason):
            failed += 1
            let text = utf8(input)
            if text.count >= 4 { #expect(!reason.contains(text)) }
        }
    }
    return (ok, failed)
}
