import ModelIR

/// The numpy-broadcast shape of two shapes, or an error naming both.
func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for k in 0..<rank {
        let da = k < rank - a.count ? 1 : a[k - (rank - a.count)]
        let db = k < rank - b.count ? 1 : b[k - (rank - b.count)]
        guard da == db || da == 1 || db == 1 else {
            throw ModelError("shapes \(a) and \(b) cannot be broadcast together")
        }
        out[k] = da == 1 ? db : da
    }
    return out
}

/// Element strides of `shape` seen through broadcasting to `out` (0 along broadcast dimensions).
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    let own = stridesOf(shape)
    let lead = out.count - shape.count
    return (0..<out.count).map { k in k < lead || shape[k - lead] == 1 ? 0 : own[k - lead] }
}

/// How two operands line up with a broadcast output: dimensions collapsed as far as possible, so
/// the innermost dimension is one long row in which each operand is contiguous (stride 1) or
/// constant (stride 0). Same shapes, a scalar and a per-channel [1,C,1,1] operand all become a
/// few long rows.
struct BroadcastLayout {
    let outShape: [Int]
    let dims: [Int]
    let aStrides: [Int]
    let bStrides: [Int]

    init(_ a: [Int], _ b: [Int]) throws {
        outShape = try broadcastShape(a, b)
        let sa = broadcastStrides(a, to: outShape), sb = broadcastStrides(b, to: outShape)
        var d: [Int] = [], xa: [Int] = [], xb: [Int] = []
        for k in 0..<outShape.count where outShape[k] != 1 {
            if let last = d.last, xa.last! == sa[k] * outShape[k], xb.last! == sb[k] * outShape[k] {
                d[d.count - 1] = last * outShape[k]
                xa[xa.count - 1] = sa[k]
                xb[xb.count - 1] = sb[k]
            } else {
                d.append(outShape[k]); xa.append(sa[k]); xb.append(sb[k])
            }
        }
        if d.isEmpty { d = [1]; xa = [0]; xb = [0] }
        dims = d; aStrides = xa; bStrides = xb
    }

    var rowLength: Int { dims.last! }
    var rows: Int { dims.dropLast().reduce(1, *) }

    /// Offsets into a and b of the start of row `r`.
    @inline(__always)
    func rowOffsets(_ r: Int) -> (Int, Int) {
        var rest = r, oa = 0, ob = 0
        var k = dims.count - 2
        while k >= 0 {
            let i = rest % dims[k]
            rest /= dims[k]
            oa += i * aStrides[k]
            ob += i * bStrides[k]
            k -= 1
        }
        return (oa, ob)
    }
}
