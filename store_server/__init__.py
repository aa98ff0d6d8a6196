"""The store server: the shop's cards, customers, bonus ledger, rules and devices."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("loyalty-kiosk")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+source"
