"""Background jobs on huey (``tasks.py``): run with ``huey_consumer server.jobs.tasks.huey``."""
