"""Complaint schemas: ``citizen`` (the mini-program) and ``staff`` (queue, workflow, stats)."""
