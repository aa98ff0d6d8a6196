"""The ledger core: operations, the bonus ledger, accrual rules, tiers, receipts, card takeover and binding,
device clocks."""
