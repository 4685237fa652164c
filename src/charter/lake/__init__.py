"""The decision lake: one Delta table of decisions per model, and its outcomes."""
