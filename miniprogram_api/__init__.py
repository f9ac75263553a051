"""Blueprints called by the mini-program, registered in this order."""

from miniprogram_api import auth, toilets, users

BLUEPRINTS = (auth.blp, users.blp, toilets.blp, toilets.staff_blp)
