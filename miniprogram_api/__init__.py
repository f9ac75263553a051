"""Blueprints called by the mini-program, registered in this order."""

from miniprogram_api import auth, uploads, users

BLUEPRINTS = (auth.blp, users.blp, uploads.blp)
