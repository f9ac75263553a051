"""What the service does, one package or module per feature (toilets, stalls, complaints,
uploads, users, auth, notifications, open311): plain arguments in, models or frozen dataclasses
out; never a request, never a commit."""
