"""The foundation every other layer builds on: the database wiring, the one transaction per
request, the one error shape, the API object and its OpenAPI helpers, rate limits, signals,
pagination. Modules here import only third-party packages and each other."""
