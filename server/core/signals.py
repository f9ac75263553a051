"""Signals every feature may send or receive; no feature owns them (blinker).

- ``account_deleting(user)``: sent inside the account-deletion transaction (注销); every
  feature that keeps personal data connects a receiver that erases or anonymises it.
"""

from blinker import Namespace

_signals = Namespace()

account_deleting = _signals.signal("account-deleting")
