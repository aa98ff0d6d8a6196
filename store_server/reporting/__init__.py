"""Reports and the back office's dashboard: the shop's figures per day, week, month, device, cashier, card type,
tier and shop, visit segments and SMS costs, all read from one cache of the ledger (summary.py) so that a year
of a million operations answers in a few milliseconds. `store-server report` and the back office share it."""
