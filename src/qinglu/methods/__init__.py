"""Accounting methods: pure engines, and their dated, cited parameters."""
