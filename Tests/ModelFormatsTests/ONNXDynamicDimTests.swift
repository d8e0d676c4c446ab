import CONNX
import Foundation
import ModelIR
import XCTest

@testable import ModelFormats

/// paddle2onnx declares dynamic dimensions as dim_value -1: read as unknown, other negatives refused.
final class ONNXDynamicDimTests: XCTestCase {
    /// `smallModel()` serialised with the first dimension of input x set to `value` on the wire
    /// (the IR cannot hold a negative dimension, so the encoded message is patched).
    private func bytes(firstDim value: Int64) throws -> [UInt8] {
        let encoder = ONNXEncoder()
        let root = try encoder.model(smallModel())
        let dim = root.pointee.graph.pointee.input[0]!.pointee.type.pointee.tensor_type.pointee.shape.pointee.dim[0]!
        dim.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
        dim.pointee.dim_value = value
        return packMessage(root)
    }

    /// The first dimension of input x as written in `bytes`: (has a value, value, has a name).
    private func firstDim(of bytes: [UInt8]) throws -> (Bool, Int64, Bool) {
        let decoded = try XCTUnwrap(unpackMessage(onnx__model_proto__unpack, bytes))
        let root = decoded.typed(Onnx__ModelProto.self)
        let dim = root.pointee.graph.pointee.input[0]!.pointee.type.pointee.tensor_type.pointee.shape.pointee.dim[0]!
        return (dim.pointee.value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE, dim.pointee.dim_value,
                dim.pointee.value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
    }

    func testMinusOneIsUnknown() throws {
        let model = try ONNXReader.read(bytes: try bytes(firstDim: -1))
        XCTAssertEqual(model.graph.inputs[0].tensorType?.shape, Shape([.unknown, .fixed(2), .fixed(3)]))
        // Inference and the profile treat it like a symbolic batch.
        XCTAssertEqual(try model.inferShapes()["y"]?.shape, Shape([.unknown, .fixed(2), .fixed(3)]))
        XCTAssertEqual(try model.profileTotals(batch: 4).macs, 4 * 6 * 2)
    }

    func testOtherNegativesAreRefused() throws {
        for v: Int64 in [-2, -3, Int64.min] {
            let path = try temporaryDirectory(self).appendingPathComponent("m.onnx").path
            try Data(try bytes(firstDim: v)).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try ONNXReader.read(path: path)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(path + ": "), message)
                XCTAssertTrue(message.contains("negative dimension \(v)"), message)
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
    }

    /// An unchanged type keeps the file's -1 (onnx.checker accepts it, as onnxruntime does); a
    /// changed type writes the dimension with neither value nor name, ONNX's own "unknown".
    func testWritingBack() throws {
        let model = try ONNXReader.read(bytes: try bytes(firstDim: -1))
        let same = try ONNXWriter.serialize(model)
        let (hasValue, value, _) = try firstDim(of: same)
        XCTAssertTrue(hasValue)
        XCTAssertEqual(value, -1)

        var changed = model
        changed.graph.inputs[0] = ValueInfo(name: "x", tensor: TensorType(.float, Shape([.unknown, .fixed(2), .fixed(3)])))
        changed.graph.inputs[0].preserved = model.graph.inputs[0].preserved
        changed.graph.outputs[0] = ValueInfo(name: "y", tensor: TensorType(.float, Shape([.unknown, .fixed(2), .fixed(3)])))
        let rewritten = try ONNXWriter.serialize(changed)
        XCTAssertEqual(try ONNXReader.read(bytes: rewritten).graph.outputs[0].tensorType?.shape, Shape([.unknown, .fixed(2), .fixed(3)]))

        // A type that really changed (the element count of axis 1) is written afresh.
        changed.graph.inputs[0] = ValueInfo(name: "x", tensor: TensorType(.float, Shape([.unknown, .fixed(1), .fixed(3)])))
        let fresh = try ONNXWriter.serialize(changed)
        let (freshValue, _, freshName) = try firstDim(of: fresh)
        XCTAssertFalse(freshValue)
        XCTAssertFalse(freshName)
    }
}
