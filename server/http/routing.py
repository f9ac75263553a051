"""URL converters: ``<int:...>`` ids are bounded to the database's 32-bit integer ids.

An id beyond that range cannot exist, so it is a plain 404 from routing instead of an
overflow inside the database driver (SQLite raises OverflowError on such a number).
"""

from werkzeug.routing import IntegerConverter

from server.util.bounds import MAX_ID


class IdConverter(IntegerConverter):
    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def id_schema(converter: IdConverter) -> dict:
    """How the converter appears in the OpenAPI spec."""
    return {"type": "integer", "minimum": 0, "maximum": converter.max}
