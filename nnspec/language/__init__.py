"""The spec's vocabulary: parameter types, identifier rules and expressions."""
