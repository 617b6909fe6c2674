/// What one step of a run changed, before → after, read from the output it recorded by its
/// type's `change`; and whether compensation has undone it since.
public struct StepChange: Sendable, Equatable {
    public var step: String
    public var type: String
    public var text: String
    /// Compensation restored what was there before.
    public var undone: Bool

    public init(step: String, type: String, text: String, undone: Bool) {
        self.step = step
        self.type = type
        self.text = text
        self.undone = undone
    }

    public var json: JSONValue {
        .object(["step": .string(step), "type": .string(type), "change": .string(text), "undone": .bool(undone)])
    }
}

extension RunState {
    /// Each succeeded step's change, in the order the steps succeeded. A step planned as one
    /// that only reads changed nothing, and its output is not read (a plan of thousands of
    /// checks would decode every output for nothing).
    public func changes(_ registry: StepRegistry) -> [StepChange] {
        completionOrder.compactMap { id in
            guard let planned = planned(id), planned.isCompensable, let record = steps[id], let output = record.output,
                let text = registry[planned.type]?.change(output)
            else { return nil }
            return StepChange(step: id, type: planned.type, text: text, undone: record.compensation == .succeeded)
        }
    }
}
