"""Marshmallow schemas shared with the mini-program; exported to ``schemas/dist``."""
