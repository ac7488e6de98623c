"""Horizontal basin compensation: basins, sections, parties, rules, monitoring, statements."""
