"""The one bound on ids and counts: every id and count column is a 32-bit ``INTEGER``
(PostgreSQL ``integer``), so a larger number in a request cannot name a row and must never
reach the database driver (SQLite raises OverflowError on it)."""

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
MAX_ID = INT_MAX


def is_id(value: int) -> bool:
    """Whether ``value`` can be the id of a row (ids start at 1)."""
    return 0 < value <= MAX_ID
