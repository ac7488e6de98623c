"""What every feature uses: errors, quantities, money, identifiers, the ledger write."""
