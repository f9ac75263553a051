"""Farmer stall booking: the farmers' API (``blp``) and the staff API (``staff_blp``)."""

from server.core.blueprint import Blueprint

blp = Blueprint(
    "stalls", __name__, url_prefix="/api/v1", description="Farmer stall booking (临时销售点)"
)
staff_blp = Blueprint(
    "staff_stalls",
    __name__,
    url_prefix="/api/v1/staff/stalls",
    description="Stall booking management (staff)",
)

from miniprogram_api.stalls import farmer, staff  # noqa: E402, F401  (routes)
