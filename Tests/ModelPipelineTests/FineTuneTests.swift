import Datasets
import Foundation
import ModelIR
@testable import ModelPipeline
import ModelTraining
import XCTest

final class FineTuneTests: XCTestCase {
    func testAugmentationParsing() throws {
        XCTAssertEqual(try Augmentation(parsing: "crop=4,flip"), Augmentation(cropPadding: 4, flip: true))
        XCTAssertEqual(try Augmentation(parsing: "flip"), Augmentation(flip: true))
        XCTAssertEqual(try Augmentation(parsing: "none"), Augmentation())
        XCTAssertThrowsError(try Augmentation(parsing: "crop=-1"))
        XCTAssertThrowsError(try Augmentation(parsing: "rotate"))
    }

    /// Flip mirrors rows exactly; a crop of the padded image shifts by at most the padding and fills zeros.
    func testAugmentationMovesPixelsOnly() {
        let (c, h, w) = (2, 3, 4)
        var image = (0..<(c * h * w)).map { Float($0 + 1) }
        var random = SplitMix64(seed: 1)
        var flips = 0
        for _ in 0..<20 {
            var copy = image
            Augmentation(flip: true).apply(&copy, count: 1, shape: [c, h, w], random: &random)
            if copy != image {
                flips += 1
                for ch in 0..<c { for y in 0..<h { for x in 0..<w {
                    XCTAssertEqual(copy[(ch * h + y) * w + x], image[(ch * h + y) * w + (w - 1 - x)])
                } } }
            }
        }
        XCTAssertTrue(flips > 3 && flips < 17, "about half the samples flip (\(flips) of 20)")
        for _ in 0..<20 {
            var copy = image
            Augmentation(cropPadding: 1).apply(&copy, count: 1, shape: [c, h, w], random: &random)
            // Every value is a zero or the original value at a neighbour within the padding.
            for ch in 0..<c { for y in 0..<h { for x in 0..<w {
                let v = copy[(ch * h + y) * w + x]
                guard v != 0 else { continue }
                let at = Int(v) - 1
                let (sc, sy, sx) = (at / (h * w), at / w % h, at % w)
                XCTAssertEqual(sc, ch)
                XCTAssertLessThanOrEqual(abs(sy - y), 1)
                XCTAssertLessThanOrEqual(abs(sx - x), 1)
            } } }
        }
        image[0] = 0
    }

    /// A gzipped IDX file read in random order through its spooled copy gives the same samples.
    func testSpooledSourceReadsAnyOrder() throws {
        let source = try openSource(path: fixture("Fixtures/fashion-mnist/images-idx3-ubyte.gz"))
        XCTAssertTrue(source.readsInOrderOnly)
        let spooled = try SpooledSource.randomAccess(source)
        XCTAssertFalse(spooled.readsInOrderOnly)
        XCTAssertEqual(spooled.count, 1000)
        let plain = try openSource(path: fashionImages)
        XCTAssertTrue(try SpooledSource.randomAccess(plain) === plain, "a .npy file reads in any order as it is")
        var a = [Float](repeating: 0, count: 784), b = a
        for index in [999, 3, 500, 0] {
            try spooled.read(start: index, count: 1, into: &a)
            try plain.read(start: index, count: 1, into: &b)
            XCTAssertEqual(a, b)
        }
    }

    /// Every epoch's training loss is reported; validation picks the kept epoch.
    func testFineTunerRunsEpochs() throws {
        let model = try ModelFile.open(lenet)
        var settings = FineTuneSettings()
        settings.epochs = 2
        settings.batchSize = 50
        settings.limit = 200
        settings.optimizer = OptimizerSettings(kind: .adam)
        settings.schedule = LearningRateSchedule(kind: .cosine, baseRate: 1e-3, warmupSteps: 2)
        let tuner = try FineTuner(model: model, settings: settings)
        let reader = try FineTuner.reader(for: model, data: fashionImages, preprocessing: fashionScale.preprocessing)
        var steps = 0
        let result = try tuner.run(train: reader, labels: try openSource(path: fashionLabels),
                                   validation: (fashionImages, fashionLabels)) { p in
            if !p.validating { steps += 1 }
        }
        XCTAssertEqual(steps, 8)
        XCTAssertEqual(result.epochs.map(\.epoch), [1, 2])
        XCTAssertTrue(result.epochs.allSatisfy { $0.validationAccuracy != nil && $0.trainLoss > 0 })
        // The last of 8 steps, 2 of them warm-up: cosine at 5/6 of its span.
        XCTAssertEqual(result.epochs[1].learningRate, 1e-3 * 0.5 * (1 + cos(Double.pi * 5 / 6)), accuracy: 1e-9)
        XCTAssertNotEqual(result.model.graph.initializers, model.graph.initializers)
    }

    /// A run placed in a longer schedule (trim --schedule-span loop) takes its rates from that
    /// schedule's later part: epochs 3–4 of 4 anneal towards 0 instead of restarting.
    func testSchedulePhaseContinuesALongerSchedule() throws {
        let model = try ModelFile.open(lenet)
        var settings = FineTuneSettings()
        settings.epochs = 2
        settings.batchSize = 50
        settings.limit = 100
        settings.schedule = LearningRateSchedule(kind: .cosine, baseRate: 0.1)
        settings.schedulePhase = (startEpoch: 2, totalEpochs: 4)
        let tuner = try FineTuner(model: model, settings: settings)
        let reader = try FineTuner.reader(for: model, data: fashionImages, preprocessing: fashionScale.preprocessing)
        let result = try tuner.run(train: reader, labels: try openSource(path: fashionLabels))
        // 2 steps per epoch, 8 in all; the last step of each epoch is global step 5 and 7.
        XCTAssertEqual(result.epochs[0].learningRate, 0.1 * 0.5 * (1 + cos(Double.pi * 5 / 8)), accuracy: 1e-7)
        XCTAssertEqual(result.epochs[1].learningRate, 0.1 * 0.5 * (1 + cos(Double.pi * 7 / 8)), accuracy: 1e-7)
    }
}
