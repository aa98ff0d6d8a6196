"""Building the running kiosk from its config: local store, server client, sync worker, backend."""

from __future__ import annotations

from dataclasses import dataclass

from .backend import Backend
from .client import StoreClient
from .config import KioskConfig
from .store import LocalStore
from .sync import SyncWorker


@dataclass
class Runtime:
    config: KioskConfig
    store: LocalStore
    client: StoreClient
    sync: SyncWorker
    backend: Backend

    def close(self) -> None:
        self.sync.stop()
        self.client.close()
        self.store.close()


def build_runtime(config: KioskConfig) -> Runtime:
    store = LocalStore(config.database)
    client = StoreClient(config.server_url, device_key=store.get_setting("device_key"),
                         timeout=config.request_timeout, ca_bundle=config.ca_bundle)
    sync = SyncWorker(store, client)
    return Runtime(config, store, client, sync, Backend(store, client, sync, country=config.country))


def provision(config: KioskConfig, *, token: str, name: str) -> dict:
    """Enrols this device with the store server and keeps its key in the local store."""
    runtime = build_runtime(config)
    try:
        enrolled = runtime.client.enrol(token, name, config.role)
        runtime.store.set_setting("device_id", enrolled["device_id"])
        runtime.store.set_setting("device_key", enrolled["device_key"])
        runtime.store.set_setting("role", config.role)
        runtime.client.device_key = enrolled["device_key"]
        shop = runtime.client.config()
        runtime.store.set_setting("shop_name", shop.get("public_name", ""))
        runtime.store.set_setting("shop_config", shop)
        return enrolled
    finally:
        runtime.close()
