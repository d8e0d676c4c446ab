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

// The harness is named by the first argument, or by MODELTOOL_FUZZ_HARNESS: libFuzzer's -fork mode
// starts its workers with the libFuzzer options only, and they find their harness in the
// environment they inherit (Tools/fuzz.sh sets it).
let arguments = CommandLine.arguments
let named = arguments.count >= 2 ? Harnesses.all[arguments[1]] : nil
guard let harness = named ?? ProcessInfo.processInfo.environment["MODELTOOL_FUZZ_HARNESS"].flatMap({ Harnesses.all[$0] }) else {
    fputs("usage: modeltool-fuzz NAME [libFuzzer options] [corpus...]; NAME: \(Harnesses.all.keys.sorted().joined(separator: ", "))\n", stderr)
    exit(2)
}
chosen = harness
// libFuzzer sees the program name followed by its own arguments.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
if named != nil {
    argc -= 1
    argv = CommandLine.unsafeArgv + 1
    argv![0] = CommandLine.unsafeArgv[0]
}
exit(runDriver(&argc, &argv) { data, size in
    chosen(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
