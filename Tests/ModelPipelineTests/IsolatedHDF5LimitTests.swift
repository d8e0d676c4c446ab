@testable import ModelPipeline
import XCTest

/// The isolated HDF5 reader's memory cap starts from what the child already holds.
final class IsolatedHDF5LimitTests: XCTestCase {
    func testDataInUseIsReadFromTheProcessStatusAndFollowsAllocations() throws {
        let before = IsolatedHDF5.dataBytesInUse()
        XCTAssertGreaterThan(before, 0, "VmData is read from /proc/self/status")
        let size = 256 << 20
        let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { block.deallocate() }
        XCTAssertGreaterThanOrEqual(IsolatedHDF5.dataBytesInUse(), before + size)
    }
}
