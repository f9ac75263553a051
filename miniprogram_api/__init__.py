"""Blueprints called by the mini-program, registered in this order."""

from miniprogram_api import auth, stalls, users

BLUEPRINTS = (auth.blp, users.blp, stalls.blp, stalls.staff_blp)
