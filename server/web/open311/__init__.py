"""Open311 GeoReport v2 at ``/open311/v2/``, for other city systems and open-data consumers.

- ``views``: the blueprint (discovery, services, requests, tokens) and its error shape;
- ``params``: reading the spec's parameters;
- ``render``: the spec's representations, as JSON or XML;
- ``cli``: ``flask open311 issue-key`` / ``revoke-key``.

The data side (keys, public cases, filing) is ``server.services.open311``.
"""

from server.web.open311.views import bp

__all__ = ["bp"]
