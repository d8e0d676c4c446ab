import CHDF5
import XCTest
@testable import Datasets

final class HDF5Tests: DatasetTestCase {
    /// Creates an HDF5 file with libhdf5: `datasets` maps a path to (native type, shape, values).
    func writeHDF5(_ name: String, groups: [String] = [], _ datasets: [(String, hid_t, [Int], [Double])]) throws -> String {
        let path = directory.appendingPathComponent(name).path
        let file = H5Fcreate(path, mt_h5f_acc_trunc(), mt_h5p_default(), mt_h5p_default())
        XCTAssertGreaterThanOrEqual(file, 0)
        defer { H5Fclose(file) }
        for group in groups {
            let id = H5Gcreate2(file, group, mt_h5p_default(), mt_h5p_default(), mt_h5p_default())
            XCTAssertGreaterThanOrEqual(id, 0)
            H5Gclose(id)
        }
        for (datasetPath, type, shape, values) in datasets {
            let dims = shape.map { hsize_t($0) }
            let space = H5Screate_simple(Int32(dims.count), dims, nil)
            let dataset = H5Dcreate2(file, datasetPath, type, space, mt_h5p_default(), mt_h5p_default(), mt_h5p_default())
            XCTAssertGreaterThanOrEqual(dataset, 0, datasetPath)
            // Written from doubles; libhdf5 converts to the dataset's stored type.
            XCTAssertGreaterThanOrEqual(H5Dwrite(dataset, mt_h5t_native_double(), mt_h5s_all(), mt_h5s_all(), mt_h5p_default(), values), 0)
            H5Dclose(dataset)
            H5Sclose(space)
        }
        return path
    }

    func testHyperslabReadsOfIntegerAndFloatDatasets() throws {
        let images = (0..<30).map { Double($0 * 100 - 1000) }
        let labels: [Double] = [4, 1, 0, 9, 2]
        let path = try writeHDF5("d.h5", groups: ["/test"], [
            ("/test/images", mt_h5t_native_int16(), [5, 2, 3], images),
            ("/test/labels", mt_h5t_native_uint8(), [5], labels),
            ("/scores", mt_h5t_native_double(), [5, 1], [0.5, 0.25, -1, 2, 8]),
        ])
        let source = try openSource(path: path + ":/test/images")
        XCTAssertEqual(source.count, 5)
        XCTAssertEqual(source.sampleShape, [2, 3])
        XCTAssertEqual(source.elementDescription, "int16 HDF5")
        XCTAssertEqual(try values(source), images.map { Float($0) })
        XCTAssertEqual(try values(source, start: 2, count: 2), images[12..<24].map { Float($0) })
        XCTAssertEqual(try openSource(path: path + ":/test/labels").readLabels(start: 1, count: 4), [1, 0, 9, 2])
        // The only dataset at the root is the default.
        let scores = try openSource(path: path)
        XCTAssertEqual(scores.name, path + ":/scores")
        XCTAssertEqual(try values(scores, start: 3, count: 2), [2, 8])
    }

    func testMissingDatasetAndAmbiguousDefault() throws {
        let path = try writeHDF5("m.h5", [("/a", mt_h5t_native_float(), [2], [1, 2]), ("/b", mt_h5t_native_float(), [2], [3, 4])])
        assertError("\(path): has no dataset '/nope/x'", exact: true) { _ = try openSource(path: path + ":/nope/x") }
        assertError("\(path): name the dataset as \(path):/group/name (datasets: /a, /b)", exact: true) { _ = try openSource(path: path) }
    }

    func testNotAnHDF5File() throws {
        let path = try write("fake.h5", Array("definitely not hdf5".utf8))
        assertError("\(path): cannot be opened as HDF5", exact: true) { _ = try openSource(path: path) }
    }
}
