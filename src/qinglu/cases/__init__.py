"""Ecological-damage cases and their state machine."""
