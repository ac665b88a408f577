// The iteration order of a java.util.HashMap<String, V> filled by successive put() calls.
//
// Debezium builds hstore values with pgjdbc's HStoreConverter.fromString, which puts the pairs
// into a plain HashMap; both hstore.handling.mode=json (a Jackson generator walking entrySet())
// and mode=map (Kafka Connect's JsonConverter walking entrySet()) therefore emit the keys in
// HashMap order. Debezium's own test expects `{"key5":null,"key4":"val4"}` for the hstore
// `"key4"=>"val4", "key5"=>NULL`.
//
// This is a model of OpenJDK's HashMap (unchanged in this respect from JDK 8 to JDK 25):
//  * hash = String.hashCode() ^ (h >>> 16); bucket = hash & (capacity - 1);
//  * table of 16 buckets on first put, doubled when size exceeds 0.75 * capacity;
//  * a new key is appended to the tail of its bucket's list; a resize splits each list into
//    "lo" and "hi" lists keeping the relative order;
//  * a bucket reaching 9 entries is converted to a red-black tree ("treeified") when the table
//    has at least 64 buckets, otherwise the table is resized instead. Tree bins iterate in their
//    `next` order, which treeify/putTreeVal/moveRootToFront rearrange (root first, new nodes
//    inserted after their tree parent); a split bin with <= 6 entries is untreeified.
// Keys are ordered in tree bins by hash, then String.compareTo (UTF-16 code units).

struct JavaHashMapOrder {
    // Keys as UTF-16 code units (what java.lang.String holds), concatenated.
    private var units: [UInt16] = []
    private var keyStart: [Int] = []
    private var keyEnd: [Int] = []
    // Per node.
    private var hash: [Int32] = []
    private var next: [Int] = []
    private var prev: [Int] = []
    private var left: [Int] = []
    private var right: [Int] = []
    private var parent: [Int] = []
    private var red: [Bool] = []
    private var isTree: [Bool] = []
    private var table: [Int] = []
    private var threshold = 0
    private(set) var size = 0
    /// Tree-bin events so far (tests use them to show the tree paths were exercised).
    private(set) var treeifications = 0
    private(set) var untreeifications = 0

    static let treeifyThreshold = 8
    static let untreeifyThreshold = 6
    static let minTreeifyCapacity = 64

    init() {}

    /// A map whose table already has `capacity` buckets (a power of two, at least 16), as a HashMap
    /// has after `clear()`: clearing empties the buckets but keeps their number.
    init(capacity: Int) {
        precondition(capacity >= 16 && capacity & (capacity - 1) == 0, "a HashMap table is a power of two, at least 16")
        table = [Int](repeating: -1, count: capacity)
        threshold = capacity / 4 * 3
    }

    /// The number of buckets (0 before the first put).
    var capacity: Int { table.count }

    // MARK: keys

    /// Appends the UTF-16 form of UTF-8 `bytes`, decoding ill-formed sequences to U+FFFD per
    /// maximal subpart (as Java's UTF-8 decoder and JSON.appendStringContents do).
    static func appendUTF16(_ units: inout [UInt16], _ bytes: UnsafeBufferPointer<UInt8>) {
        let n = bytes.count
        var i = 0
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 {
                units.append(UInt16(b0))
                i += 1
                continue
            }
            let len = JSON.validUTF8SequenceLength(bytes, i)
            if len == 0 {
                units.append(0xFFFD)
                i += JSON.maximalSubpartLength(bytes, i)
                continue
            }
            var scalar: UInt32
            switch len {
            case 2: scalar = UInt32(b0 & 0x1F)
            case 3: scalar = UInt32(b0 & 0x0F)
            default: scalar = UInt32(b0 & 0x07)
            }
            for k in 1..<len { scalar = (scalar << 6) | UInt32(bytes[i + k] & 0x3F) }
            if scalar >= 0x10000 {
                let v = scalar - 0x10000
                units.append(UInt16(truncatingIfNeeded: 0xD800 + (v >> 10)))
                units.append(UInt16(truncatingIfNeeded: 0xDC00 + (v & 0x3FF)))
            } else {
                units.append(UInt16(truncatingIfNeeded: scalar))
            }
            i += len
        }
    }

    /// java.lang.String.hashCode(): h = 31 * h + c over the UTF-16 code units, wrapping.
    static func stringHash(_ units: ArraySlice<UInt16>) -> Int32 {
        var h: Int32 = 0
        for u in units { h = h &* 31 &+ Int32(u) }
        return h
    }

    private func keyEquals(_ a: Int, _ b: Int) -> Bool {
        let la = keyEnd[a] - keyStart[a]
        guard la == keyEnd[b] - keyStart[b] else { return false }
        var i = keyStart[a], j = keyStart[b]
        while i < keyEnd[a] {
            if units[i] != units[j] { return false }
            i += 1; j += 1
        }
        return true
    }

    /// Sign of String.compareTo(a, b).
    private func keyCompare(_ a: Int, _ b: Int) -> Int {
        let la = keyEnd[a] - keyStart[a], lb = keyEnd[b] - keyStart[b]
        var i = keyStart[a], j = keyStart[b]
        for _ in 0..<min(la, lb) {
            if units[i] != units[j] { return units[i] < units[j] ? -1 : 1 }
            i += 1; j += 1
        }
        return la == lb ? 0 : (la < lb ? -1 : 1)
    }

    // MARK: put

    /// `map.put(key, value)` for the key given as UTF-8. Returns the node of the key (an earlier
    /// node when the key was already present, whose position then does not change).
    @discardableResult
    mutating func put(utf8 key: UnsafeBufferPointer<UInt8>) -> Int {
        let node = hash.count
        keyStart.append(units.count)
        JavaHashMapOrder.appendUTF16(&units, key)
        keyEnd.append(units.count)
        let h = JavaHashMapOrder.stringHash(units[keyStart[node]..<keyEnd[node]])
        hash.append(h ^ Int32(bitPattern: UInt32(bitPattern: h) >> 16))
        next.append(-1); prev.append(-1); left.append(-1); right.append(-1); parent.append(-1)
        red.append(false); isTree.append(false)
        // A replaced value returns the existing node; the unused node's key stays in `units`, never linked.
        let existing = putVal(node)
        return existing >= 0 ? existing : node
    }

    /// HashMap.putVal; returns the existing node for a repeated key, or -1.
    private mutating func putVal(_ x: Int) -> Int {
        if table.isEmpty { resize() }
        let h = hash[x]
        let n = table.count
        let index = Int(h & Int32(n - 1))
        let first = table[index]
        if first < 0 {
            table[index] = x
        } else if hash[first] == h && keyEquals(first, x) {
            return first
        } else if isTree[first] {
            let found = putTreeVal(x)
            if found >= 0 { return found }
        } else {
            var p = first
            var binCount = 0
            while true {
                let e = next[p]
                if e < 0 {
                    next[p] = x
                    if binCount >= JavaHashMapOrder.treeifyThreshold - 1 { treeifyBin(h) }
                    break
                }
                if hash[e] == h && keyEquals(e, x) { return e }
                p = e
                binCount += 1
            }
        }
        size += 1
        if size > threshold { resize() }
        return -1
    }

    private mutating func resize() {
        let oldTab = table
        let oldCap = oldTab.count
        if oldCap == 0 {
            table = [Int](repeating: -1, count: 16)
            threshold = 12
            return
        }
        let newCap = oldCap * 2
        threshold *= 2
        // Like HashMap.resize, the new table is installed before the old bins are moved.
        table = [Int](repeating: -1, count: newCap)
        for j in 0..<oldCap {
            let e = oldTab[j]
            if e < 0 { continue }
            if next[e] < 0 {
                table[Int(hash[e] & Int32(newCap - 1))] = e
            } else if isTree[e] {
                split(from: e, index: j, bit: oldCap)
            } else {
                var loHead = -1, loTail = -1, hiHead = -1, hiTail = -1
                var p = e
                while p >= 0 {
                    let nx = next[p]
                    if Int(hash[p]) & oldCap == 0 {
                        if loTail < 0 { loHead = p } else { next[loTail] = p }
                        loTail = p
                    } else {
                        if hiTail < 0 { hiHead = p } else { next[hiTail] = p }
                        hiTail = p
                    }
                    p = nx
                }
                if loTail >= 0 { next[loTail] = -1; table[j] = loHead }
                if hiTail >= 0 { next[hiTail] = -1; table[j + oldCap] = hiHead }
            }
        }
    }

    // MARK: tree bins

    private mutating func treeifyBin(_ h: Int32) {
        let n = table.count
        if n < JavaHashMapOrder.minTreeifyCapacity {
            resize()
            return
        }
        let index = Int(h & Int32(n - 1))
        let head = table[index]
        guard head >= 0 else { return }
        treeifications += 1
        // Plain nodes become tree nodes in the same order, with prev links.
        var p = head, last = -1
        while p >= 0 {
            isTree[p] = true
            prev[p] = last
            left[p] = -1; right[p] = -1; parent[p] = -1
            last = p
            p = next[p]
        }
        treeify(head)
    }

    /// TreeNode.treeify on the list starting at `head`, which is table[bucket of head].
    private mutating func treeify(_ head: Int) {
        var root = -1
        var x = head
        while x >= 0 {
            let nx = next[x]
            left[x] = -1; right[x] = -1
            if root < 0 {
                parent[x] = -1
                red[x] = false
                root = x
            } else {
                let h = hash[x]
                var p = root
                while true {
                    let ph = hash[p]
                    let dir: Int
                    if ph > h { dir = -1 } else if ph < h { dir = 1 } else {
                        // Distinct keys with equal hashes: String.compareTo is never 0.
                        dir = keyCompare(x, p)
                    }
                    let xp = p
                    p = dir <= 0 ? left[p] : right[p]
                    if p < 0 {
                        parent[x] = xp
                        if dir <= 0 { left[xp] = x } else { right[xp] = x }
                        root = balanceInsertion(root, x)
                        break
                    }
                }
            }
            x = nx
        }
        moveRootToFront(root)
    }

    /// TreeNode.putTreeVal; returns an existing node for a repeated key, or -1 after inserting `x`.
    private mutating func putTreeVal(_ x: Int) -> Int {
        let h = hash[x]
        let index = Int(h & Int32(table.count - 1))
        var root = table[index]
        while parent[root] >= 0 { root = parent[root] }
        var p = root
        while true {
            let ph = hash[p]
            let dir: Int
            if ph > h { dir = -1 } else if ph < h { dir = 1 } else if keyEquals(p, x) { return p } else {
                // Tree bins are ordered by (hash, compareTo), so a repeated key is met on this path.
                dir = keyCompare(x, p)
            }
            let xp = p
            p = dir <= 0 ? left[p] : right[p]
            if p < 0 {
                let xpn = next[xp]
                isTree[x] = true
                next[x] = xpn
                left[x] = -1; right[x] = -1
                if dir <= 0 { left[xp] = x } else { right[xp] = x }
                next[xp] = x
                parent[x] = xp
                prev[x] = xp
                if xpn >= 0 { prev[xpn] = x }
                let newRoot = balanceInsertion(root, x)
                moveRootToFront(newRoot)
                return -1
            }
        }
    }

    private mutating func moveRootToFront(_ root: Int) {
        guard root >= 0, !table.isEmpty else { return }
        let index = Int(hash[root] & Int32(table.count - 1))
        let first = table[index]
        if root != first {
            table[index] = root
            let rp = prev[root]
            let rn = next[root]
            if rn >= 0 { prev[rn] = rp }
            if rp >= 0 { next[rp] = rn }
            if first >= 0 { prev[first] = root }
            next[root] = first
            prev[root] = -1
        }
    }

    /// TreeNode.split during resize: lo/hi lists in `next` order; small halves become plain lists,
    /// a half that received all nodes keeps its tree, the others are re-treeified.
    private mutating func split(from b: Int, index: Int, bit: Int) {
        var loHead = -1, loTail = -1, hiHead = -1, hiTail = -1
        var lc = 0, hc = 0
        var e = b
        while e >= 0 {
            let nx = next[e]
            next[e] = -1
            if Int(hash[e]) & bit == 0 {
                prev[e] = loTail
                if loTail < 0 { loHead = e } else { next[loTail] = e }
                loTail = e
                lc += 1
            } else {
                prev[e] = hiTail
                if hiTail < 0 { hiHead = e } else { next[hiTail] = e }
                hiTail = e
                hc += 1
            }
            e = nx
        }
        if loHead >= 0 {
            if lc <= JavaHashMapOrder.untreeifyThreshold {
                untreeify(loHead)
                table[index] = loHead
            } else {
                table[index] = loHead
                if hiHead >= 0 { treeify(loHead) }
            }
        }
        if hiHead >= 0 {
            if hc <= JavaHashMapOrder.untreeifyThreshold {
                untreeify(hiHead)
                table[index + bit] = hiHead
            } else {
                table[index + bit] = hiHead
                if loHead >= 0 { treeify(hiHead) }
            }
        }
    }

    private mutating func untreeify(_ head: Int) {
        untreeifications += 1
        var p = head
        while p >= 0 {
            isTree[p] = false
            left[p] = -1; right[p] = -1; parent[p] = -1; prev[p] = -1
            p = next[p]
        }
    }

    private mutating func rotateLeft(_ rootIn: Int, _ p: Int) -> Int {
        var root = rootIn
        let r = p >= 0 ? right[p] : -1
        if p >= 0 && r >= 0 {
            let rl = left[r]
            right[p] = rl
            if rl >= 0 { parent[rl] = p }
            let pp = parent[p]
            parent[r] = pp
            if pp < 0 {
                root = r
                red[r] = false
            } else if left[pp] == p {
                left[pp] = r
            } else {
                right[pp] = r
            }
            left[r] = p
            parent[p] = r
        }
        return root
    }

    private mutating func rotateRight(_ rootIn: Int, _ p: Int) -> Int {
        var root = rootIn
        let l = p >= 0 ? left[p] : -1
        if p >= 0 && l >= 0 {
            let lr = right[l]
            left[p] = lr
            if lr >= 0 { parent[lr] = p }
            let pp = parent[p]
            parent[l] = pp
            if pp < 0 {
                root = l
                red[l] = false
            } else if right[pp] == p {
                right[pp] = l
            } else {
                left[pp] = l
            }
            right[l] = p
            parent[p] = l
        }
        return root
    }

    private mutating func balanceInsertion(_ rootIn: Int, _ xIn: Int) -> Int {
        var root = rootIn
        var x = xIn
        red[x] = true
        while true {
            var xp = parent[x]
            if xp < 0 {
                red[x] = false
                return x
            }
            var xpp = parent[xp]
            if !red[xp] || xpp < 0 { return root }
            let xppl = left[xpp]
            if xp == xppl {
                let xppr = right[xpp]
                if xppr >= 0 && red[xppr] {
                    red[xppr] = false
                    red[xp] = false
                    red[xpp] = true
                    x = xpp
                } else {
                    if x == right[xp] {
                        x = xp
                        root = rotateLeft(root, x)
                        xp = parent[x]
                        xpp = xp < 0 ? -1 : parent[xp]
                    }
                    if xp >= 0 {
                        red[xp] = false
                        if xpp >= 0 {
                            red[xpp] = true
                            root = rotateRight(root, xpp)
                        }
                    }
                }
            } else {
                if xppl >= 0 && red[xppl] {
                    red[xppl] = false
                    red[xp] = false
                    red[xpp] = true
                    x = xpp
                } else {
                    if x == left[xp] {
                        x = xp
                        root = rotateRight(root, x)
                        xp = parent[x]
                        xpp = xp < 0 ? -1 : parent[xp]
                    }
                    if xp >= 0 {
                        red[xp] = false
                        if xpp >= 0 {
                            red[xpp] = true
                            root = rotateLeft(root, xpp)
                        }
                    }
                }
            }
        }
    }

    // MARK: iteration

    /// Nodes in entrySet() iteration order (each distinct key once).
    func iterationOrder() -> [Int] {
        var order: [Int] = []
        order.reserveCapacity(size)
        for head in table {
            var p = head
            while p >= 0 {
                order.append(p)
                p = next[p]
            }
        }
        return order
    }
}

/// The order in which a `java.util.HashMap<String, V>` iterates its keys: what Debezium's maps of
/// strings come out in (hstore values, a transaction's per-table event counts).
public struct JavaHashMapKeyOrder: Sendable {
    /// The bucket count the map ended with; `clear()` keeps it, so a map cleared and filled again
    /// starts from it (pass it as `startingCapacity`).
    public let capacity: Int
    /// Indexes into the keys, in iteration order (a repeated key once, at its first index).
    public let order: [Int]

    /// The order of a map that starts with `startingCapacity` buckets (0: a new map) and gets `keys`
    /// put in this order.
    public init(keys: [String], startingCapacity: Int = 0) {
        var map = startingCapacity >= 16 ? JavaHashMapOrder(capacity: startingCapacity) : JavaHashMapOrder()
        var keyOfNode: [Int: Int] = [:]
        for (index, key) in keys.enumerated() {
            var utf8 = key
            let node = utf8.withUTF8 { map.put(utf8: $0) }
            if keyOfNode[node] == nil { keyOfNode[node] = index }
        }
        capacity = map.capacity
        order = map.iterationOrder().map { keyOfNode[$0]! }
    }
}
