"""What flows need from the world: the server when it answers, the local store when it does not.

Flows call this; they never touch requests or SQLite themselves, so tests can hand them a backend over
a real server and a real file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import i18n
from .client import BadResponse, ServerUnreachable, StoreClient
from .store import LocalStore
from .sync import SyncWorker


@dataclass(frozen=True)
class CardView:
    card: dict
    from_cache: bool
    fetched_at: float
    # shown to its owner after an SMS code (Find my card, Join from a phone with a card): its QR may be shown
    own: bool = False
    # the `identify` token of the code its owner just typed for this card's phone (Find my card), not used yet:
    # answers added from the card screen go with it instead of a second SMS (kiosk/flows/details.py)
    proof: str | None = None


class Backend:
    def __init__(self, store: LocalStore, client: StoreClient, sync: SyncWorker | None = None, *,
                 country: str = "UA", outage_timeout: float = 1.5) -> None:
        self.store = store
        self.client = client
        self.sync = sync
        self.country = country
        # While the sync worker finds the server down, a customer should not wait the full timeout for a
        # card the cache can show at once; the server still gets a short chance to answer.
        self.outage_timeout = outage_timeout
        # the cashier signed in on this till (their server id): every operation queued meanwhile carries it,
        # an activation at the till as much as a sale
        self.cashier: str | None = None

    def lookup_card(self, number: str) -> CardView:
        """Server first (it has the balance); the cache when the server cannot be reached or answers
        garbage (a captive portal, a crashed proxy). ServerRefused (e.g. card_not_found) propagates; the
        server's error only when the cache has nothing."""
        short = self.sync is not None and self.sync.failing
        try:
            card = self.client.card(number, timeout=min(self.outage_timeout, self.client.timeout) if short else None)
        except (ServerUnreachable, BadResponse):
            cached = self.store.cached_card(number)
            if cached is None:
                raise
            self.store.touch_card(number)
            return CardView(cached[0], True, cached[1])
        self.store.cache_card(card)
        return CardView(card, False, time.time())

    def lookup_digital_card(self, token: str) -> CardView:
        """A card QR from a customer's phone (`lk://card/<token>`). Only the server can check its signature and
        expiry, so an unreachable server is an error here, never the cache: a screenshot must not outlive
        its token just because the network is down. A QR of a plain card number (the done screen of a shop
        without a public_url) is an ordinary card number, cache and all."""
        if token.isdigit():
            return self.lookup_card(token)
        short = self.sync is not None and self.sync.failing
        card = self.client.card(token, timeout=min(self.outage_timeout, self.client.timeout) if short else None)
        self.store.cache_card(card)  # kept under the card's number, which the server just vouched for
        return CardView(card, False, time.time())

    def lookup_phone(self, phone: str, *, token: str | None = None) -> CardView:
        """The till's look-up by phone: the server only (the cache is keyed by card number, and a phone
        look-up offline would show a card the server may since have moved to another phone)."""
        card = self.client.customer_by_phone(phone, token=token)
        self.store.cache_card(card)
        return CardView(card, False, time.time())

    def own_card(self, card: dict, proof: str | None = None) -> CardView:
        """The card the server showed its owner after a code (Find my card); cached like any look-up."""
        # the page link is for the owner's eyes: the cache answers anyone who scans the card later
        self.store.cache_card({k: v for k, v in card.items() if k != "card_link"})
        return CardView(card, False, time.time(), own=True, proof=proof)

    def request_code(self, phone: str, purpose: str, **kw) -> dict:
        # The SMS comes in the language the customer chose on the screen.
        kw.setdefault("lang", i18n.language())
        return self.client.request_code(phone, purpose, **kw)

    def check_code(self, challenge_id: str, code: str) -> dict:
        return self.client.check_code(challenge_id, code)

    def enqueue(self, type_: str, payload: dict, **kw) -> str:
        if kw.get("cashier") is None:
            kw["cashier"] = self.cashier
        op_id = self.store.enqueue(type_, payload, **kw)
        if self.sync is not None:
            self.sync.kick()
        return op_id
