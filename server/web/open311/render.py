"""GeoReport v2 representations, and their JSON and XML documents.

Field names and element names are the spec's. Only public fields of a case are read here:
never the reporter, a contact phone, an internal note or the content-check state. Free text
written by citizens (description, address, notes) goes out with phone numbers, ID card
numbers and e-mail addresses masked, in case someone typed theirs into it.
"""

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET

from flask import Response

from server.models.complaints import Complaint, ComplaintCategory
from server.util import geo
from server.util.clock import CST
from server.util.media import media_url
from server.util.privacy import redact_text

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this interface (fields, behaviour) last changed.
CHANGESET = "2026-11-26T00:00:00+08:00"
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# XML: the element of each item of a list, by the list's name.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
# Characters XML 1.0 cannot carry (control characters, lone surrogates): dropped from XML text.
XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
LIMIT_WORDS = {"working_hours": "个工作小时", "working_days": "个工作日"}


def w3c(value: dt.datetime | None) -> str | None:
    """W3C datetime in Beijing time, to the second: ``2026-11-26T09:30:00+08:00``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(CST).replace(microsecond=0).isoformat()


# -- representations -------------------------------------------------------------------------------
def discovery(url: str, contact: str, key_service: str, endpoint_type: str) -> dict:
    return {
        "changeset": CHANGESET,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": CHANGESET,
                "type": endpoint_type,
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def time_limit(category: ComplaintCategory) -> str:
    return f"处置时限：{category.limit_value}{LIMIT_WORDS[category.limit_unit]}"


def service(category: ComplaintCategory, service_type: str) -> dict:
    unit = category.unit.name if category.unit else None
    description = (
        f"{category.kind_name}·{category.class_name}·{category.name}，{time_limit(category)}"
    )
    if unit:
        description += f"，责任单位：{unit}"
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": description,
        "metadata": False,  # no extra attributes: GET services/{code} lists none
        "type": service_type,
        "keywords": f"{category.kind_name}, {category.class_name}, {category.name}",
        "group": category.class_name,
    }


def service_definition(category: ComplaintCategory) -> dict:
    return {"service_code": category.code, "attributes": []}


def status_notes(complaint: Complaint, note: str | None) -> str:
    """The detailed step (受理, 处置中, 已结案（未解决）...) and its latest public note."""
    label = complaint.status_label
    return redact_text(f"{label}：{note}") if note else label


def _media(complaint: Complaint, submitted: str | None) -> str | None:
    photos = complaint.report_uploads or complaint.resolution_uploads
    if photos:
        return media_url(photos[0].path)
    return submitted


def service_request(complaint: Complaint, note: str | None, submitted_media: str | None) -> dict:
    """One case as a GeoReport service request: public fields only, WGS-84 coordinates."""
    category = complaint.category
    unit = complaint.unit or category.unit
    lat, lng = geo.gcj02_to_wgs84(complaint.lat, complaint.lng)
    return {
        "service_request_id": str(complaint.id),
        "status": complaint.open311_status,
        "status_notes": status_notes(complaint, note),
        "service_name": category.name,
        "service_code": category.code,
        "description": redact_text(complaint.description),
        "agency_responsible": unit.name if unit else None,
        "service_notice": time_limit(category),
        "requested_datetime": w3c(complaint.created_at),
        "updated_datetime": w3c(complaint.updated_at),
        "expected_datetime": w3c(complaint.deadline_at),
        "address": redact_text(complaint.address) or None,
        "address_id": None,
        "zipcode": None,
        "lat": round(lat, 6),
        "long": round(lng, 6),
        "media_url": _media(complaint, submitted_media),
    }


def error(code: int, description: str) -> dict:
    return {"code": code, "description": description}


# -- documents -------------------------------------------------------------------------------------
def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return XML_INVALID.sub("", str(value))


def _append(parent: ET.Element, name: str, value) -> None:
    element = ET.SubElement(parent, name)
    _fill(element, name, value)


def _fill(element: ET.Element, name: str, value) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list):
        for item in value:
            _append(element, ITEM_NAMES[name], item)
    else:
        element.text = _text(value)


def to_xml(root: str, value) -> str:
    element = ET.Element(root)
    _fill(element, root, value)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")


def document(root: str, value, fmt: str, status: int = 200, headers: dict | None = None):
    """``value`` as JSON, or as XML under the ``root`` element (``services``, ``errors``...)."""
    body = to_xml(root, value) if fmt == "xml" else json.dumps(value, ensure_ascii=False)
    return Response(body, status=status, headers=headers, content_type=CONTENT_TYPES[fmt])
