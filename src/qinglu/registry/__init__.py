"""The registry: holders, accounts, products, projects, issuances, unit blocks, the ledger."""
