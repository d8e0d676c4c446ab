import Foundation
import XCTest
import ModelIR
@testable import ModelRuntime

/// The runtime's kernel table against `OpKind` and the README. Kernel entries, shape rules, channel
/// rules and the Keras mapping name operators by `OpKind`, and shape inference and the channel
/// rules switch over it exhaustively, so the compiler already refuses an op outside `OpKind` there;
/// these tests check what the type system cannot. (No key registered twice:
/// `InterpreterTests.testNoKernelKeyIsRegisteredTwice`.)
final class OpTableTests: XCTestCase {
    func testEveryOpKindIsExecutedOrExplicitlyNot() {
        let executed = KernelRegistry.executedKinds
        for kind in OpKind.allCases {
            XCTAssertTrue(executed.contains(kind) != OpKind.knownButNotExecuted.contains(kind),
                          "\(kind) must have a kernel entry or be in OpKind.knownButNotExecuted, not both or neither")
        }
    }

    func testEveryEntryIsAnOperatorOfTheDefaultSet() {
        for entry in KernelRegistry.entries {
            XCTAssertEqual(OpKind(opType: entry.opType, domain: OperatorSetDomain.onnx), entry.kind)
            XCTAssertEqual(KernelRegistry.entry(domain: "ai.onnx", opType: entry.opType, opset: entry.versions.lowerBound)?.kind,
                           entry.kind)
            XCTAssertNil(KernelRegistry.entry(domain: "com.example", opType: entry.opType, opset: entry.versions.lowerBound))
        }
    }

    func testReadmeListsExactlyTheRegistry() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let listed = try Self.supportedOperators(inReadme: String(contentsOf: readme, encoding: .utf8))
        let registered = Set(KernelRegistry.entries.map(\.opType))
        XCTAssertEqual(listed.subtracting(registered).sorted(), [], "in the README, without a kernel")
        XCTAssertEqual(registered.subtracting(listed).sorted(), [], "with a kernel, missing from the README")
    }

    /// The names of the README's "Supported operators (…): A (notes), B, …, Z." paragraph.
    static func supportedOperators(inReadme text: String) throws -> Set<String> {
        guard let start = text.range(of: "Supported operators") else {
            throw ModelError("README has no 'Supported operators' paragraph")
        }
        var paragraph = String(text[start.lowerBound...])
        if let end = paragraph.range(of: "\n\n") { paragraph = String(paragraph[..<end.lowerBound]) }
        // Notes in parentheses hold commas of their own.
        paragraph = paragraph.replacingOccurrences(of: "\\([^)]*\\)", with: "", options: .regularExpression)
        guard let colon = paragraph.firstIndex(of: ":") else { throw ModelError("no ':' after 'Supported operators'") }
        var list = String(paragraph[paragraph.index(after: colon)...])
        if let end = list.range(of: ".") { list = String(list[..<end.lowerBound]) }
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        for name in names where name.isEmpty || name.contains(" ") {
            throw ModelError("README operator list entry '\(name)' is not one operator name")
        }
        return Set(names)
    }
}
