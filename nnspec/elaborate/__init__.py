"""Elaboration: validated spec models to the IR, one pass per module."""
