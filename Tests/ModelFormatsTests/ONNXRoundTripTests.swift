import Foundation
import ModelIR
import XCTest

@testable import ModelFormats

final class ONNXRoundTripTests: XCTestCase {
    /// Every backend-test model imports, verifies, and re-serialises to the very same bytes; the
    /// re-read IR equals the first.
    func testBackendModelsRoundTripByteIdentical() throws {
        let files = modelFiles(under: try backendDataDirectory())
        XCTAssertGreaterThan(files.count, 100)
        var identical = 0
        for url in files {
            let original = try [UInt8](Data(contentsOf: url))
            let model = try ONNXReader.read(path: url.path)
            let bytes = try ONNXWriter.serialize(model)
            XCTAssertEqual(bytes.count, original.count, url.path)
            if bytes == original { identical += 1 } else { XCTFail("\(url.path): round trip changed the bytes") }
            XCTAssertEqual(try ONNXReader.read(bytes: bytes, modelPath: url.path), model, url.path)
        }
        print("backend models: \(files.count) imported, \(identical) round-tripped byte-identical")
    }

    /// Each typed storage field is read and written back in the same field.
    func testEveryTypedStorageFormRoundTrips() throws {
        func tensor<T>(_ type: DataType, _ values: [T], form: TensorStorageForm) -> Tensor {
            let bytes = values.withUnsafeBytes { TensorBytes(copying: $0) }
            return Tensor(name: "t_\(type)_\(form)", dataType: type, dims: [values.count], storage: .bytes(bytes),
                          preserved: Preserved(format: "onnx", bytes: [form.rawValue, 0]))
        }
        let cases: [Tensor] = [
            tensor(.float, [Float(1.5), -2, 0], form: .floatData),
            tensor(.int32, [Int32(-7), 8], form: .int32Data),
            tensor(.int16, [Int16(-300), 300], form: .int32Data),
            tensor(.uint16, [UInt16(65535), 1], form: .int32Data),
            tensor(.int8, [Int8(-128), 127], form: .int32Data),
            tensor(.uint8, [UInt8(255), 0], form: .int32Data),
            tensor(.bool, [UInt8(1), 0, 1], form: .int32Data),
            tensor(.float16, [UInt16(0x3c00), 0xc000], form: .int32Data),
            tensor(.bfloat16, [UInt16(0x3f80)], form: .int32Data),
            tensor(.float8e4m3fn, [UInt8(0x38)], form: .int32Data),
            tensor(.int64, [Int64.min, Int64.max], form: .int64Data),
            tensor(.double, [Double.pi, -1], form: .doubleData),
            tensor(.uint32, [UInt32.max, 3], form: .uint64Data),
            tensor(.uint64, [UInt64.max], form: .uint64Data),
        ]
        var graph = Graph(name: "forms", outputs: cases.map { ValueInfo(name: $0.name) }, initializers: cases)
        // raw_data is the default form and needs no preserved marker.
        graph.initializers.append(Tensor(name: "r", floats: [3, 4], dims: [2]))
        graph.initializers.append(Tensor(name: "s", dataType: .string, dims: [2], storage: .strings([[104, 105], []]),
                                         preserved: Preserved(format: "onnx", bytes: [TensorStorageForm.stringData.rawValue, 0])))
        graph.outputs += [ValueInfo(name: "r"), ValueInfo(name: "s")]
        let model = Model(graph: graph)
        let bytes = try ONNXWriter.serialize(model)
        let back = try ONNXReader.read(bytes: bytes)
        XCTAssertEqual(back.graph, model.graph)
        XCTAssertEqual(try ONNXWriter.serialize(back), bytes)
        for (a, b) in zip(back.graph.initializers, model.graph.initializers) {
            XCTAssertEqual(a.preserved, b.preserved, "storage form of \(a.name)")
            XCTAssertEqual(a.bytes?.array, b.bytes?.array, a.name)
        }
        XCTAssertEqual(try back.graph.initializers[2].floats(), [-300, 300])
        XCTAssertEqual(try back.graph.initializers[7].floats(), [1, -2])
        XCTAssertEqual(try back.graph.initializers[8].floats(), [1])
    }

    /// Repeated scalars are accepted packed and unpacked, whatever the schema's default is.
    func testPackedAndUnpackedRepeatedFieldsAreBothRead() throws {
        func varint(_ v: UInt64) -> [UInt8] {
            var v = v, out: [UInt8] = []
            repeat {
                out.append(UInt8(v & 0x7f) | (v >= 0x80 ? 0x80 : 0))
                v >>= 7
            } while v != 0
            return out
        }
        let floats: [Float] = [1, 2, 3, 4, 5, 6]
        // dims packed (field 1, wire type 2) although the schema says unpacked; data_type 1;
        // float_data unpacked (field 4, wire type 5) although the schema says packed.
        var proto: [UInt8] = [0x0a, 2] + varint(2) + varint(3) + [0x10, 1]
        for f in floats { proto += [0x25] + withUnsafeBytes(of: f.bitPattern.littleEndian) { Array($0) } }
        proto += [0x42, 1, UInt8(ascii: "t")]
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("t.pb").path
        try Data(proto).write(to: URL(fileURLWithPath: path))
        let t = try ONNXReader.readTensor(path: path)
        XCTAssertEqual(t.name, "t")
        XCTAssertEqual(t.dims, [2, 3])
        XCTAssertEqual(try t.floats(), floats)
    }

    /// Fields the IR does not model (doc strings, metadata, unknown fields) survive, and so does
    /// the absence of a field that the IR reports as empty.
    func testUnknownFieldsAndPresenceSurvive() throws {
        var model = smallModel()
        let bytes = try ONNXWriter.serialize(model)
        // Append an unknown field (number 1000, varint 42) to the model message.
        let unknown: [UInt8] = [0xc0, 0x3e, 42]
        let back = try ONNXReader.read(bytes: bytes + unknown)
        XCTAssertEqual(try ONNXWriter.serialize(back), bytes + unknown)
        // A changed model keeps the unknown field and carries the change.
        model = back
        model.producerName = "changed"
        let changed = try ONNXWriter.serialize(model)
        XCTAssertEqual(Array(changed.suffix(3)), unknown)
        XCTAssertEqual(try ONNXReader.read(bytes: changed).producerName, "changed")
    }
}
