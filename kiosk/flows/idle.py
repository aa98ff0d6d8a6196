"""When an abandoned screen goes back to the start, and when the customer is warned first.

A customer waiting for an SMS code gets longer (a slow provider can take a minute or more), and the last
seconds are counted down on screen so nobody loses what they typed without seeing it coming. Plain Python:
the app asks it once a second.
"""

from __future__ import annotations

from dataclasses import dataclass

# Screens where the customer waits for a code to arrive on their phone.
CODE_SCREENS = ("register_code", "find_code", "till_code", "identify_code")
# The start screens, which never reset: the entrance's, and the till's while nobody is signed in.
HOME_SCREENS = ("attract", "till_signin")
WARN_SECONDS = 15  # the countdown shown before the reset


@dataclass(frozen=True)
class IdlePolicy:
    timeout: float = 60.0
    code_timeout: float = 180.0

    def limit(self, screen: str) -> float:
        return max(self.timeout, self.code_timeout) if screen in CODE_SCREENS else self.timeout

    def left(self, screen: str, idle: float) -> float:
        """Seconds until the reset (0: now); the start screen never resets."""
        if screen in HOME_SCREENS:
            return float("inf")
        return max(0.0, self.limit(screen) - idle)

    def countdown(self, screen: str, idle: float) -> int | None:
        """Whole seconds to show in the warning, or None while there is no need to warn."""
        left = self.left(screen, idle)
        if left == float("inf") or left > min(WARN_SECONDS, self.limit(screen) / 2):
            return None
        return max(1, int(left + 0.999))
