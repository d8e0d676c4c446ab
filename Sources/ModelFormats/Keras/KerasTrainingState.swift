import CHDF5
import ModelIR

extension KerasWriter {
    /// Writes `model` (typically `source` after trimming) as a Keras 2 legacy `.h5` at `path`, keeping
    /// `source`'s training state: its `training_config`, and those of its optimizer weights whose
    /// shapes still fit the new layer weights they track (copied bit for bit). `path` may equal
    /// `source` (the file is replaced atomically). Returns one message per dropped optimizer weight.
    /// The new `model_config` is generated from the model, so its widths always match the weights.
    public static func rewriteLegacyH5(_ model: Model, keepingTrainingStateOf source: String, to path: String) throws -> [String] {
        try model.graph.verify()
        let plan = try KerasExporter(model).plan()
        let old = try H5Group.open(file: source)
        let training = try old.string(attribute: "training_config")
        let (kept, dropped) = try fittingOptimizerWeights(old, plan: plan)
        try writeLegacyH5(plan, to: path, trainingConfig: training) { root in
            guard !kept.isEmpty else { return }
            let group = try root.makeGroup("optimizer_weights")
            try group.setAttribute("weight_names", strings: kept)
            let from = try old.group("optimizer_weights")
            let lcpl = H5Pcreate(mt_h5p_link_create())
            defer { H5Pclose(lcpl) }
            H5Pset_create_intermediate_group(lcpl, 1)
            for name in kept where H5Ocopy(from.id, name, group.id, name, mt_h5p_default(), lcpl) < 0 {
                throw ModelError("\(path): cannot copy optimizer weight '\(name)' from \(source)")
            }
        }
        return dropped
    }

    /// Splits `/optimizer_weights` into the names to keep and messages for those to drop. An optimizer
    /// weight tracks layer weight `w` of layer `L` when its name contains `L/w` as whole path parts
    /// (`Adam/conv_a/kernel/m:0`); ones tracking no layer weight (`Adam/iter:0`) are kept.
    static func fittingOptimizerWeights(_ root: H5Group, plan: KerasModelPlan) throws -> (kept: [String], dropped: [String]) {
        guard root.has("optimizer_weights") else { return ([], []) }
        let group = try root.group("optimizer_weights")
        let names = try group.strings(attribute: "weight_names") ?? []
        var shapes: [[Substring]: [Int]] = [:]
        for layer in plan.layers {
            for w in layer.weights { shapes[[Substring(layer.name), Substring(w.name)]] = w.dims }
        }
        var kept: [String] = [], dropped: [String] = []
        for name in names {
            let parts = name.split(separator: "/").map { $0.hasSuffix(":0") ? $0.dropLast(2) : $0 }
            let tracked = parts.indices.dropLast().lazy.compactMap { shapes[[parts[$0], parts[$0 + 1]]] }.first
            let dims = try group.floats(dataset: name).dims
            if let tracked, tracked != dims {
                dropped.append("optimizer weight '\(name)' dropped: shape \(dims) no longer fits the layer weight's \(tracked)")
            } else {
                kept.append(name)
            }
        }
        return (kept, dropped)
    }
}

extension KerasWriter {
    /// The metadata key a model read from a `.keras` file with optimizer variables carries.
    public static let optimizerStateKey = "keras_optimizer_state"

    /// Whether a Keras file holds optimizer state: `/optimizer_weights` in a legacy `.h5`; for a
    /// `.keras` zip, `model` (as read from it) says so in its metadata.
    public static func hasOptimizerState(_ path: String, readAs model: Model) -> Bool {
        if model.metadata.contains(where: { $0.key == optimizerStateKey }) { return true }
        guard let root = try? H5Group.open(file: path) else { return false }
        return root.has("optimizer_weights")
    }
}
