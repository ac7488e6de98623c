"""Exports other registries read: the public registry as CSV and as JSON in the Climate
Action Data Trust data model, and the import of the same."""
