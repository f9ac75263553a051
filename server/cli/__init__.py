"""Every ``flask`` command of the service, one module per group (``commands.py`` lists them)."""
