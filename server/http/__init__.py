"""Request plumbing shared by every HTTP surface: authentication and role checks,
``Idempotency-Key``, conditional GETs, the request log, security headers and body bounds,
URL converters. Views use these decorators; services never see a request."""
