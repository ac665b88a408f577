import PGOutput
import Testing

/// SplitMix64: tiny, seedable, and good enough to spread fuzz inputs around.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct FuzzTests {
    static let tags = Array("BCORYIUDTMAwk".utf8)

    /// Decoding either throws or yields a value; since the wire format has
    /// exactly one encoding per value, anything accepted must re-encode to
    /// the same bytes (catches silently skipped or misread fields).
    func check(_ bytes: [UInt8]) {
        if let message = try? PGOutputMessage.decode(bytes[...]) {
            #expect(PGOutputTestEncoder.encode(message) == bytes, "\(bytes)")
        }
        switch try? ReplicationMessage.decode(bytes[...]) {
        case .xLogData(let x)?:
            #expect(PGOutputTestEncoder.encode(.xLogData(x)) == bytes, "\(bytes)")
            if let inner = try? PGOutputMessage.decode(x.data) {
                #expect(PGOutputTestEncoder.encode(inner) == Array(x.data))
            }
        case .primaryKeepalive(let k)?:
            // The one lenient field: any non-zero reply byte counts as a request.
            #expect(PGOutputTestEncoder.encode(.primaryKeepalive(k)).dropLast() == bytes.dropLast(), "\(bytes)")
            #expect(k.replyRequested == (bytes.last != 0))
        case nil:
            break
        }
    }

    @Test func randomBytes() {
        var rng = SplitMix64(seed: 0x5EED)
        for _ in 0..<5_000 {
            var bytes = (0..<Int.random(in: 0..<96, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Mostly start with a real tag so decoding gets past the first byte.
            if !bytes.isEmpty, Int.random(in: 0..<4, using: &rng) != 0 {
                bytes[0] = Self.tags.randomElement(using: &rng)!
            }
            check(bytes)
        }
    }

    @Test func mutatedValidMessages() {
        var rng = SplitMix64(seed: 42)
        let seeds = Samples.pgoutput.map { PGOutputTestEncoder.encode($0) }
            + Samples.replication.map { PGOutputTestEncoder.encode($0) }
        for seed in seeds {
            for _ in 0..<300 {
                var bytes = seed
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    mutate(&bytes, using: &rng)
                }
                check(bytes)
            }
        }
    }

    private func mutate(_ bytes: inout [UInt8], using rng: inout SplitMix64) {
        let index = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0 where !bytes.isEmpty:
            bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
        case 1 where !bytes.isEmpty:
            // Small and boundary values hit length/count edge cases more often than uniform bytes.
            bytes[index] = [0, 1, 0x7F, 0x80, 0xFF].randomElement(using: &rng)!
        case 2:
            bytes.insert(UInt8.random(in: 0...255, using: &rng), at: index)
        case 3 where !bytes.isEmpty:
            bytes.remove(at: index)
        case 4:
            bytes.removeLast(bytes.count - index)
        default:
            bytes.append(contentsOf: bytes[index...].prefix(8))
        }
    }
}
