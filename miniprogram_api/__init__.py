"""Blueprints called by the mini-program, registered in this order."""

from miniprogram_api import auth, complaints, open311, stalls, toilets, uploads, users

BLUEPRINTS = (
    auth.blp,
    users.blp,
    uploads.blp,
    toilets.blp,
    toilets.staff_blp,
    complaints.blp,
    complaints.staff_blp,
    stalls.blp,
    stalls.staff_blp,
    open311.staff_blp,
)
