/// Something a trim did not do as asked, for one subject: a reason shared by many subjects on a
/// big model (a dozen consumers without mean values), so reports can group notes by reason.
public struct TrimNote: Codable, Sendable, Equatable, CustomStringConvertible {
    /// What the note is about: a node, or the statistics of a tensor.
    public var subject: String
    /// Why, in words that do not name the subject.
    public var reason: String

    public init(_ subject: String, _ reason: String) {
        self.subject = subject
        self.reason = reason
    }

    /// "subject: reason", one line.
    public var description: String { "\(subject): \(reason)" }

    /// Notes with the same reason together, reasons in order of first appearance.
    public static func grouped(_ notes: [TrimNote]) -> [(reason: String, subjects: [String])] {
        var order: [String] = []
        var subjects: [String: [String]] = [:]
        for n in notes {
            if subjects[n.reason] == nil { order.append(n.reason) }
            subjects[n.reason, default: []].append(n.subject)
        }
        return order.map { ($0, subjects[$0]!) }
    }
}
