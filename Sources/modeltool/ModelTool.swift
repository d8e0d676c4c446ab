import ArgumentParser
import ModelPipeline

/// The modeltool command line: trims CNN channels by their Average Percentage of Zeros.
@main
struct ModelTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modeltool",
        abstract: "Make trained CNNs smaller by removing channels that are almost always zero (Network Trimming).",
        discussion: """
        Reads ONNX (.onnx) models. Typical session:
          modeltool info model.onnx                 layers, shapes, parameters, MACs
          modeltool convert model.onnx copy.onnx    lossless rewrite (also with --external-data)
          modeltool run model.onnx --input x.npy -o y.npy
          modeltool eval model.onnx --data x.npy --labels y.npy --scale 0.00392156862745098
          modeltool apoz model.onnx --data x.npy -o stats.json    per-channel zero counts (APoZ)
          modeltool info model.onnx --apoz stats.json --plot apoz.svg
          modeltool finetune model.onnx --data x.npy --labels y.npy --epochs 2   retrain the weights
        """,
        version: "0.1.0",
        // Every command spells out its commandName: ArgumentParser otherwise derives each one from
        // its type's name (String(describing:)) at every start, even for --version.
        subcommands: [Trim.self, Finetune.self, Info.self, Apoz.self, Eval.self, Run.self, Convert.self, IsolatedRead.self]
    )

    /// Untrusted HDF5 files are parsed in a child process (this binary again), so that a crash
    /// inside libhdf5 becomes a one-line error.
    static func main() {
        IsolatedHDF5.enable()
        main(nil)
    }
}
