"""Code both programs need, the kiosk and the store server: phone normalising and masking (phones.py), money
in the shop's currency for the reader's language (money.py), card-number formats (cards.py)."""
