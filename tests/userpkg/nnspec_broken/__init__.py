"""A user package whose declarations module fails to import."""
