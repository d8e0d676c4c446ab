import Foundation
import ModelIR

/// Cropping1D and Cropping2D (NASNet crops one row and column after a ZeroPadding2D) as a Slice of
/// the spatial axes; the writer turns such a Slice back into the cropping layer.
enum CroppingLayers {
    static let mappings: [String: LayerMapping] = [
        "Cropping1D": .noWeights { try crop($0, spatialRank: 1) },
        "Cropping2D": .noWeights { try crop($0, spatialRank: 2) },
    ]

    /// cropping: n, (a, b) or ((top, bottom), (left, right)) for 2-D; n or (left, right) for 1-D.
    static func cropping(_ call: LayerCall, spatialRank: Int) throws -> [(Int, Int)] {
        let value = call.config.values["cropping"]
        if spatialRank == 2, let pairs = value as? [Any], pairs.count == 2, pairs.allSatisfy({ $0 is [Any] }) {
            let ints = pairs.map { ($0 as! [Any]).compactMap { ($0 as? NSNumber)?.intValue } }
            guard ints.allSatisfy({ $0.count == 2 }) else { throw call.error("cropping should be ((top, bottom), (left, right))") }
            return ints.map { ($0[0], $0[1]) }
        }
        if spatialRank == 1 {
            let p = try call.config.ints("cropping", count: 2, default: [1, 1])
            return [(p[0], p[1])]
        }
        let hw = try call.config.ints("cropping", count: 2)
        return hw.map { ($0, $0) }
    }

    /// A Slice of IR axes 2… from `begin` to `-end` (to the end when `end` is 0), so it holds for any size.
    static func crop(_ call: LayerCall, spatialRank: Int) throws -> KTensor {
        let x = try call.single()
        guard x.rank == spatialRank + 2 else { throw call.error("expects a \(spatialRank + 2)-D input") }
        if spatialRank == 2 { try call.config.requireChannelsLast() }
        let crops = try cropping(call, spatialRank: spatialRank)
        guard crops.allSatisfy({ $0.0 >= 0 && $0.1 >= 0 }) else { throw call.error("cropping \(crops) is negative") }
        var shape = x.shape
        for (i, c) in crops.enumerated() {
            if let size = shape[i] {
                guard size > c.0 + c.1 else { throw call.error("cropping \(crops) leaves nothing of size \(size)") }
                shape[i] = size - c.0 - c.1
            }
        }
        let b = call.builder
        let starts = b.int64Constant("\(call.name)/starts", crops.map { Int64($0.0) })
        let ends = b.int64Constant("\(call.name)/ends", crops.map { $0.1 == 0 ? Int64.max : -Int64($0.1) })
        let axes = b.int64Constant("\(call.name)/axes", crops.indices.map { Int64($0 + 2) })
        let out = b.add(.slice, name: call.name, inputs: [x.name, starts, ends, axes], output: call.output)
        return KTensor(name: out, shape: shape)
    }
}

// MARK: Writing

extension CroppingLayers {
    static let exporters: [OpKind: KerasNodeExporter] = [.slice: exportSlice]

    /// Slice (step 1) of the spatial axes of a channels-first 3-D or 4-D tensor of known size → Cropping1D/2D.
    static func exportSlice(_ call: KerasExportCall) throws {
        let x = try call.channelsFirstInput()
        let spatial = x.rank - 2
        guard spatial == 1 || spatial == 2 else { throw ModelError("only 3-D and 4-D tensors map to Cropping1D/2D") }
        func ints(_ i: Int, _ what: String) throws -> [Int64]? {
            guard call.node.input(i) != nil else { return nil }
            let t = try call.requireConstant(i, what)
            return try t.int64s()
        }
        guard let starts = try ints(1, "starts"), let ends = try ints(2, "ends"), starts.count == ends.count else {
            throw ModelError("starts and ends must be constants of one length")
        }
        let axes = try ints(3, "axes") ?? starts.indices.map(Int64.init)
        if let steps = try ints(4, "steps"), steps.contains(where: { $0 != 1 }) { throw ModelError("only step 1 maps to Cropping") }
        var crops = [(Int, Int)](repeating: (0, 0), count: spatial)
        for (k, a) in axes.enumerated() {
            let axis = Int(a < 0 ? a + Int64(x.rank) : a)
            let irShape = call.irShape(call.node.inputs[0])
            guard axis >= 2, axis < x.rank, let size = irShape?[axis] ?? x.shape[axis - 2] else {
                throw ModelError("only slices of spatial axes of known size map to Cropping")
            }
            func clamp(_ v: Int64) -> Int { Int(max(0, min(Int64(size), v < 0 ? v + Int64(size) : v))) }
            let begin = clamp(starts[k]), end = clamp(ends[k])
            guard end > begin else { throw ModelError("an empty slice has no Keras equivalent") }
            crops[axis - 2] = (begin, size - end)
        }
        var shape = x.shape
        for i in 0..<spatial { shape[i] = shape[i].map { $0 - crops[i].0 - crops[i].1 } }
        let config: [String: Any] = spatial == 2
            ? ["cropping": crops.map { [$0.0, $0.1] }, "data_format": "channels_last"]
            : ["cropping": [crops[0].0, crops[0].1]]
        call.bind(call.exporter.addLayer(spatial == 2 ? "Cropping2D" : "Cropping1D", name: call.name, inputs: [x],
                                         outputShape: shape, layout: .channelsFirst, config: config))
    }
}
