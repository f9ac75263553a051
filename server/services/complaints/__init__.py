"""Complaints and the 12319 case workflow.

- ``cases``: filing (``create_complaint``, also for other features), similar cases,
  following, visibility, account deletion;
- ``workflow``: the state machine, staff actions, notifications;
- ``extensions``: extension requests (延期) and their approval;
- ``reporter``: rating and reopening after closure;
- ``calendar``: the working-time calendar and deadlines;
- ``staff``: the case queue, units and categories, reference data seeding;
- ``stats``: the period figures (collected, opened, closure rate, ...).
"""

from server.core.signals import account_deleting
from server.services.complaints.cases import anonymise_user, create_complaint

__all__ = ["create_complaint"]


@account_deleting.connect
def _on_account_deleting(user, **kwargs) -> None:
    anonymise_user(user)
