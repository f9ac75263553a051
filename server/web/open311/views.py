"""The GeoReport v2 endpoints under ``/open311/v2/`` (a plain blueprint, not the mini-program API).

Every answer, errors included, is in the format of the path's extension (``.json`` or ``.xml``);
errors are the spec's list of ``{code, description}`` with 400 (missing or invalid parameter),
403 (bad ``api_key``), 404 (unknown request, service, token or jurisdiction), 429 (rate limit).
"""

import logging

from flask import Blueprint, current_app, jsonify, request, url_for
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES

from server.core.errors import DEFAULT_RETRY_AFTER, AppError
from server.core.ratelimit import hit, per_ip
from server.services import open311 as service
from server.util import geo
from server.web.open311 import params, render, spec
from server.web.open311.params import Open311Error, bad

log = logging.getLogger(__name__)

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
read_limit = per_ip("OPEN311_READ")
PUBLIC = {"Access-Control-Allow-Origin": "*"}  # open data: any web page may read it


def _check_jurisdiction() -> None:
    ours = current_app.config.get("OPEN311_JURISDICTION_ID")
    given = params.text("jurisdiction_id")
    if ours and given is not None and given != ours:
        raise Open311Error(
            404, f"jurisdiction_id '{given}' not found (this endpoint serves '{ours}')"
        )


def _service_type() -> str:
    # Held for review: the id is not public yet, so the caller gets a token (a "batch" service).
    return "batch" if current_app.config["OPEN311_REVIEW_SUBMISSIONS"] else "realtime"


def _requests_document(complaints, fmt: str):
    notes = service.latest_public_notes(complaints)
    media = service.submitted_media(complaints)
    items = [render.service_request(c, notes.get(c.id), media.get(c.id)) for c in complaints]
    return render.document("service_requests", items, fmt, headers=PUBLIC)


@bp.get("/discovery.<fmt>")
@read_limit
def discovery(fmt: str):
    """Where the endpoint is, which formats it speaks, whom to ask for a key."""
    params.check_format(fmt)
    config = current_app.config
    body = render.discovery(
        url=url_for("open311.discovery", fmt=fmt, _external=True).rsplit("/", 1)[0],
        contact=config["OPEN311_CONTACT"],
        key_service=config["OPEN311_KEY_SERVICE"],
        endpoint_type="production" if config["APP_ENV"] == "production" else "test",
    )
    return render.document("discovery", body, fmt, headers=PUBLIC)


@bp.get("/services.<fmt>")
@read_limit
def services(fmt: str):
    """The request types: our complaint categories."""
    params.check_format(fmt)
    _check_jurisdiction()
    service_type = _service_type()
    items = [render.service(category, service_type) for category in service.services()]
    return render.document("services", items, fmt, headers=PUBLIC)


@bp.get("/services/<code>.<fmt>")
@read_limit
def service_definition(code: str, fmt: str):
    """A service's extra attributes: ours have none (``metadata`` is false)."""
    params.check_format(fmt)
    _check_jurisdiction()
    category = service.category(code)
    if category is None:
        raise Open311Error(404, f"service_code '{code}' not found")
    definition = render.service_definition(category)
    return render.document("service_definition", definition, fmt, headers=PUBLIC)


@bp.get("/requests.<fmt>")
@read_limit
def list_requests(fmt: str):
    """Public cases: by ids, or filtered, within a 90-day window, at most 1000."""
    params.check_format(fmt)
    _check_jurisdiction()
    raw_ids = params.csv("service_request_id")
    if raw_ids is not None:
        if not all(params.is_request_id(item) for item in raw_ids):
            raise bad("service_request_id must be a comma-delimited list of request ids")
        return _requests_document(service.find_requests(ids=[int(i) for i in raw_ids]), fmt)
    codes = params.csv("service_code")
    if codes:
        unknown = sorted(set(codes) - service.known_codes(codes))
        if unknown:
            raise bad(f"service_code not found: {', '.join(unknown)}")
    statuses = params.csv("status")
    if statuses and not set(statuses) <= {"open", "closed"}:
        raise bad("status must be open, closed or both (comma-delimited)")
    start, end = params.w3c_datetime("start_date"), params.w3c_datetime("end_date")
    if start is not None and end is not None:
        if start > end:
            raise bad("start_date must not be after end_date")
        if end - start > service.MAX_WINDOW:
            raise bad("start_date and end_date may not span more than 90 days")
    found = service.find_requests(codes=codes, start=start, end=end, statuses=statuses)
    return _requests_document(found, fmt)


@bp.get("/requests/<request_id>.<fmt>")
@read_limit
def get_request(request_id: str, fmt: str):
    """One public case."""
    params.check_format(fmt)
    _check_jurisdiction()
    complaint = None
    if params.is_request_id(request_id):
        complaint = service.get_request(int(request_id))
    if complaint is None:
        raise Open311Error(404, f"service_request_id '{request_id}' not found")
    return _requests_document([complaint], fmt)


@bp.get("/tokens/<token>.<fmt>")
@read_limit
def token(token: str, fmt: str):
    """The request id behind a token, once the case is public (empty until then)."""
    params.check_format(fmt)
    _check_jurisdiction()
    submission = service.by_token(token)
    if submission is None:
        raise Open311Error(404, f"token '{token}' not found")
    public = submission.complaint.moderation == "ok"
    item = {
        "service_request_id": str(submission.complaint_id) if public else None,
        "token": submission.token,
    }
    return render.document("service_requests", [item], fmt, headers=PUBLIC)


@bp.post("/requests.<fmt>")
def create_request(fmt: str):
    """File a case for another system (``api_key`` required); answers an id or a token."""
    params.check_format(fmt)
    _check_jurisdiction()
    api_key = service.authenticate(params.credential("api_key"))
    if api_key is None:
        raise Open311Error(403, "api_key was not provided, is invalid or has been revoked")
    hit("OPEN311_POST", f"key:{api_key.id}")
    code = params.text("service_code")
    if code is None:
        raise bad("service_code was not provided")
    category = service.category(code)
    if category is None:
        raise bad(f"service_code '{code}' not found")
    lat = params.number("lat", -90, 90)
    lng = params.number("long", -180, 180)
    address = params.text("address_string") or ""
    if lat is None or lng is None:
        raise bad(
            "lat and long (WGS-84) are required: this jurisdiction places every request on the "
            "map and does not geocode address_string or address_id"
        )
    if not params.in_jurisdiction(lat, lng):
        raise bad("lat/long must be a WGS-84 point inside the jurisdiction (China)")
    description = params.text("description")
    if description is None:
        raise bad("description was not provided (required by this jurisdiction)")
    # email, first_name, last_name, phone, device_id, account_id: accepted and never stored.
    gcj_lat, gcj_lng = geo.wgs84_to_gcj02(lat, lng)
    hold = current_app.config["OPEN311_REVIEW_SUBMISSIONS"]
    submission = service.submit(
        api_key,
        category_code=category.code,
        description=description,
        lat=gcj_lat,
        lng=gcj_lng,
        address=address,
        media_url=params.http_url("media_url"),
        hold=hold,
    )
    answer = (
        {"token": submission.token}
        if hold
        else {"service_request_id": str(submission.complaint_id)}
    )
    answer.update(service_notice=render.time_limit(category), account_id=None)
    return render.document("service_requests", [answer], fmt, status=201)


@bp.get("/openapi.json")
def openapi():
    """This interface's OpenAPI 3.0.3 description (``spec.py``): public and cacheable."""
    response = jsonify(spec.openapi())
    response.headers.update(PUBLIC)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.add_etag()
    return response.make_conditional(request)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def fallback(rest: str):
    """Anything else under /open311/v2/: 404 (or 405) in the spec's error shape."""
    adapter = current_app.url_map.bind("localhost")
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "open311.fallback":
            allowed.append(method)
    if allowed and request.method not in allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise NotFound()


# -- errors ----------------------------------------------------------------------------------------
def _error_of(exc: Exception) -> tuple[int, str, dict]:
    if isinstance(exc, Open311Error):
        return exc.code, exc.description, exc.headers
    if isinstance(exc, AppError):
        # Validation (422 in the mini-program API) is a 400 in GeoReport.
        return (400 if exc.code == 422 else exc.code), exc.message, exc.headers
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        headers = {}
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        if code == 429:
            headers["Retry-After"] = str(DEFAULT_RETRY_AFTER)
        if code == 404:
            return 404, f"{request.path} not found", headers
        return code, HTTP_STATUS_CODES.get(code, "error"), headers
    if isinstance(exc, sa_exc.OperationalError | sa_exc.TimeoutError):
        log.error("database unavailable: %s", exc.__class__.__name__)
        return 503, "service temporarily unavailable, try again later", {"Retry-After": "2"}
    if isinstance(exc, sa_exc.IntegrityError):
        return 409, "conflicting change, try again", {}
    log.exception("unhandled exception in Open311", exc_info=exc)
    return 500, "internal error", {}


@bp.errorhandler(Exception)
def handle_error(exc: Exception):
    code, description, headers = _error_of(exc)
    fmt = params.fmt_of(request.path)
    return render.document("errors", [render.error(code, description)], fmt, code, headers)
