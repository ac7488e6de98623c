"""Forestry carbon sinks: parcels (小班), monitoring, carbon tickets, buffer and reversals."""
