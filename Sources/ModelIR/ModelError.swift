/// An error with a one-line, user-facing message. Readers prefix the file name; the CLI prints it
/// as `modeltool: <message>` and exits non-zero.
public struct ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// The same error with a location (a file, a node) in front of the message.
    public func at(_ place: String) -> ModelError { ModelError("\(place): \(message)") }
}
