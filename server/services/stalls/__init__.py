"""Farmer stall booking (issue 5, DOMAIN.md §5): points, farmers, bookings, check-in, reports.

Views import the parts they need; the account-deletion receiver lives here so that it is
connected whenever the feature is loaded.
"""

from server.core.signals import account_deleting
from server.models.users import User
from server.services.stalls import bookings, checkin, farmers, points, reports, rules
from server.util.clock import utcnow

__all__ = ["bookings", "checkin", "farmers", "points", "reports", "rules"]


@account_deleting.connect
def _erase_farmer_data(user: User, **kwargs) -> None:
    """Future bookings cancelled (stalls freed), waiting dropped, profile personal data erased;
    past bookings stay as anonymous history."""
    now = utcnow()
    bookings.release_for_deletion(user, now)
    profile = farmers.find_profile(user)
    if profile is not None:
        farmers.erase(profile, now)
