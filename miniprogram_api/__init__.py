"""Blueprints called by the mini-program, registered in this order."""

from miniprogram_api import auth, complaints, toilets, uploads, users

BLUEPRINTS = (
    auth.blp,
    users.blp,
    uploads.blp,
    toilets.blp,
    toilets.staff_blp,
    complaints.blp,
    complaints.staff_blp,
)
