import ModelIR

extension BlockedLayout {
    /// x ∘ s for a blocked x [N, C, H, W] and a per-channel s [N or 1, C, 1, 1] with ∘ one of
    /// Add, Sub, Mul, Div: a squeeze-excitation gate (EfficientNet, MobileNetV3) or a per-channel
    /// bias. The output stays blocked, where the plain broadcast would convert x to plain NCHW and
    /// the next convolution convert the result back. s [N, C, 1, 1] has the same storage in both
    /// layouts, so either serves.
    struct ChannelBroadcast {
        enum Op { case add, sub, mul, div }
        let op: Op
        let x: RuntimeTensor, s: RuntimeTensor
        /// Whether s is the first operand (s − x, s / x).
        let channelsFirst: Bool

        /// The broadcast `node` computes on `args`, when it is one.
        init?(_ node: Node, _ args: [RuntimeTensor?]) {
            guard node.isDefaultDomain, node[attribute: "broadcast"] == nil, args.count == 2,
                  let a = args[0], let b = args[1], a.elementType == .float32, b.elementType == .float32 else { return nil }
            switch node.kind {
            case .add?: op = .add
            case .sub?: op = .sub
            case .mul?: op = .mul
            case .div?: op = .div
            default: return nil
            }
            func perChannel(_ s: RuntimeTensor, of x: RuntimeTensor) -> Bool {
                x.blocked && x.rank == 4 && s.rank == 4 && s.shape[1] == x.shape[1] && s.shape[2] == 1 && s.shape[3] == 1
                    && (s.shape[0] == 1 || s.shape[0] == x.shape[0])
            }
            if perChannel(b, of: a) {
                (x, s, channelsFirst) = (a, b, false)
            } else if perChannel(a, of: b) {
                (x, s, channelsFirst) = (b, a, true)
            } else {
                return nil
            }
        }

        func run(_ ctx: ExecContext) throws -> RuntimeTensor {
            var y = try ctx.floats(x.shape)
            y.blocked = true
            switch op {
            case .add: apply(AddOp.self, y, threads: ctx.threads)
            case .sub: apply(SubOp.self, y, threads: ctx.threads)
            case .mul: apply(MulOp.self, y, threads: ctx.threads)
            case .div: apply(DivOp.self, y, threads: ctx.threads)
            }
            return y
        }

        private func apply<O: BinaryFloatOp>(_: O.Type, _ y: RuntimeTensor, threads: Int) {
            let (n, c, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
            let blocks = c / lanes, perImage = s.shape[0] == 1 ? 0 : c
            let (xs, ss, ys, first) = (x.f, s.f, y.f, channelsFirst)
            parallelFor(n * blocks, threads: threads, cost: plane * lanes) { b in
                let channels = ss + (b / blocks) * perImage + (b % blocks) * lanes
                let low = load8(channels), high = load8(channels + 8)
                let from = xs + b * lanes * plane, to = ys + b * lanes * plane
                for p in 0..<plane {
                    let at = from + p * lanes, out = to + p * lanes
                    let v0 = load8(at), v1 = load8(at + 8)
                    store8(first ? O.vector(low, v0) : O.vector(v0, low), out)
                    store8(first ? O.vector(high, v1) : O.vector(v1, high), out + 8)
                }
            }
        }
    }
}
