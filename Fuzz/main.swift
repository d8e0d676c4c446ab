import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `modeltool-fuzz NAME [libFuzzer options and corpus folders]`: runs one harness under libFuzzer
/// (LLVMFuzzerRunDriver, so that this file can keep its own main).
typealias Callback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
               _ callback: Callback) -> Int32

nonisolated(unsafe) var chosen: ((UnsafeRawBufferPointer) -> Void)!

let arguments = CommandLine.arguments
guard arguments.count >= 2, let harness = Harnesses.all[arguments[1]] else {
    fputs("usage: modeltool-fuzz NAME [libFuzzer options] [corpus...]; NAME: \(Harnesses.all.keys.sorted().joined(separator: ", "))\n", stderr)
    exit(2)
}
chosen = harness
// libFuzzer sees the program name followed by its own arguments.
var argc = CommandLine.argc - 1
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv + 1
argv![0] = CommandLine.unsafeArgv[0]
exit(runDriver(&argc, &argv) { data, size in
    chosen(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
