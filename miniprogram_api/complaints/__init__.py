"""Complaints (12319): the citizen endpoints and the staff endpoints."""

from miniprogram_api.complaints.citizen import blp
from miniprogram_api.complaints.staff import blp as staff_blp

__all__ = ["blp", "staff_blp"]
