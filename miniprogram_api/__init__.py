"""Blueprints called by the mini-program, registered in this order."""

from miniprogram_api import auth, complaints, users

BLUEPRINTS = (auth.blp, users.blp, complaints.blp, complaints.staff_blp)
