/// A dense array of fixed-size elements behind a `ByteStore` (.npy, .npz members, IDX),
/// in C order or Fortran order.
///
/// C order: a batch of samples is one contiguous byte range. Fortran order: sample `i`, element
/// `j` (the Fortran-order index within a sample) lives at `i + count * j`, so a batch is one run
/// of `batch` elements per sample element, scattered to C order.
final class StridedArraySource: SampleSource {
    let name: String
    let count: Int
    let sampleShape: [Int]
    let elementDescription: String
    private let type: ElementType
    private let swapped: Bool
    private let fortranOrder: Bool
    private let store: ByteStore
    private var fortranToC: [Int]?

    /// The caller has checked that `store` holds `shape.product * type.byteSize` bytes.
    init(name: String, shape: [Int], type: ElementType, swapped: Bool, fortranOrder: Bool,
         store: ByteStore, description: String) {
        self.name = name
        self.count = shape[0]
        self.sampleShape = Array(shape.dropFirst())
        self.type = type
        self.swapped = swapped
        // With at most one axis longer than 1 the two orders coincide; take the contiguous path.
        self.fortranOrder = fortranOrder && shape.filter { $0 > 1 }.count > 1
        self.store = store
        self.elementDescription = description
    }

    var readsInOrderOnly: Bool { store is SequentialStore }

    func read(start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) throws {
        try checkRange(start: start, count: count)
        let perSample = sampleElementCount
        guard count > 0, perSample > 0 else { return }
        let size = type.byteSize
        let runs: [Run]
        if fortranOrder {
            let map = columnMap()
            runs = (0..<perSample).map { j in
                Run(offset: (j * self.count + start) * size, byteCount: count * size, destination: map[j], stride: perSample)
            }
        } else {
            let offset = start * perSample * size, byteCount = count * perSample * size
            if type == .float32 && !swapped, let file = store as? FileStore {
                try file.read(offset: offset, byteCount: byteCount, into: destination)
                return
            }
            runs = [Run(offset: offset, byteCount: byteCount, destination: 0, stride: 1)]
        }
        let type = self.type, swapped = self.swapped
        try store.visit(runs) { index, byteOffset, bytes in
            let run = runs[index]
            let target = destination + run.destination + (byteOffset / size) * run.stride
            type.convert(bytes.baseAddress!, count: bytes.count / size, swapped: swapped, to: target, stride: run.stride)
        }
    }

    /// For each Fortran-order index within a sample, its C-order index. Built on first use,
    /// when the size check has already bounded the sample size by the file size.
    private func columnMap() -> [Int] {
        if let map = fortranToC { return map }
        let dims = sampleShape
        var cStrides = [Int](repeating: 1, count: dims.count)
        for axis in stride(from: dims.count - 2, through: 0, by: -1) { cStrides[axis] = cStrides[axis + 1] * dims[axis + 1] }
        var map = [Int](repeating: 0, count: sampleElementCount)
        var index = [Int](repeating: 0, count: dims.count)
        var cOffset = 0
        for j in 0..<map.count {
            map[j] = cOffset
            // Advance the multi-index with the first axis fastest (Fortran order).
            for axis in 0..<dims.count {
                index[axis] += 1
                cOffset += cStrides[axis]
                if index[axis] < dims[axis] { break }
                cOffset -= cStrides[axis] * dims[axis]
                index[axis] = 0
            }
        }
        fortranToC = map
        return map
    }
}
