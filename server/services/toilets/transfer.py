"""Bulk import (CSV, GeoJSON) and open-data export (CSV, GeoJSON with OSM tags).

An import validates every row and imports the good ones; bad rows come back with their row
number and field errors. A row is matched to an existing toilet by its external id
(``ref``), so importing the same file again changes nothing. A new toilet within 30 m of
another (already stored or earlier in the file) is reported as a likely duplicate and not
imported unless ``allow_duplicates``.
"""

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator

from marshmallow import Schema, ValidationError
from sqlalchemy import select

from server.core.errors import AppError
from server.extensions import db
from server.models.toilets import Toilet
from server.models.users import User
from server.services.toilets import manage
from server.util.clock import CST, utcnow

MAX_ROWS = 20_000
Row = tuple[int, dict]


# -- reading files ------------------------------------------------------------------------------
def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China often saves GB18030/GBK
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AppError(422, "import_encoding", "文件编码无法识别，请保存为 UTF-8 后重试")


def detect_format(filename: str, text: str) -> str:
    name = (filename or "").lower()
    if name.endswith((".geojson", ".json")) or text.lstrip().startswith("{"):
        return "geojson"
    return "csv"


def csv_rows(text: str) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise AppError(422, "import_empty", "文件是空的")
    for record in reader:
        if not any((v or "").strip() for k, v in record.items() if k is not None):
            continue  # blank line
        yield reader.line_num, {k: v for k, v in record.items() if k is not None}


def geojson_rows(text: str) -> Iterator[Row]:
    try:
        document = json.loads(text)
    except ValueError:
        raise AppError(422, "import_bad_geojson", "GeoJSON 格式不正确") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise AppError(422, "import_bad_geojson", "GeoJSON 应为 FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise AppError(422, "import_bad_geojson", "GeoJSON 缺少 features")
    for number, feature in enumerate(features, start=1):
        props = dict((feature or {}).get("properties") or {}) if isinstance(feature, dict) else {}
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        coords = (geometry or {}).get("coordinates") if isinstance(geometry, dict) else None
        if (
            isinstance(geometry, dict)
            and geometry.get("type") == "Point"
            and isinstance(coords, list)
            and len(coords) >= 2
        ):
            props["lng"], props["lat"] = coords[0], coords[1]
        else:
            props.pop("lat", None), props.pop("lng", None)
            props["_geometry"] = "invalid"
        yield number, props


def read(filename: str, raw: bytes) -> tuple[str, list[Row]]:
    text = _decode(raw)
    kind = detect_format(filename, text)
    rows = list(geojson_rows(text) if kind == "geojson" else csv_rows(text))
    if len(rows) > MAX_ROWS:
        raise AppError(422, "import_too_large", f"一次最多导入{MAX_ROWS}条，请拆分文件")
    return kind, rows


# -- importing ----------------------------------------------------------------------------------
def import_rows(
    actor: User | None,
    rows: Iterable[Row],
    *,
    row_schema: Schema,
    coord_type: str = "gcj02",
    allow_duplicates: bool = False,
    dry_run: bool = False,
    file_format: str = "csv",
    now: dt.datetime | None = None,
) -> dict:
    """Import rows, each loaded by ``row_schema`` (the surface's import-row schema, e.g.
    ``schemas.toilets.ToiletImportRowSchema``); answers counts, row errors and likely
    duplicates."""
    now = now or utcnow()
    schema = row_schema
    rows = list(rows)
    result = {
        "format": file_format,
        "dry_run": dry_run,
        "total": len(rows),
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
        "duplicates": [],
    }
    seen: dict[str, int] = {}
    loaded: list[tuple[int, dict]] = []
    for number, raw in rows:
        external_id = str(raw.get("external_id") or raw.get("ref") or "").strip() or None
        raw = {"coord_type": coord_type, **raw}
        try:
            if raw.pop("_geometry", None):
                raise ValidationError({"geometry": ["应为点（Point）坐标"]})
            data = schema.load(raw)
        except ValidationError as err:
            result["errors"].append(
                {"row": number, "external_id": external_id, "errors": err.messages}
            )
            continue
        if data["external_id"] in seen:
            result["errors"].append(
                {
                    "row": number,
                    "external_id": data["external_id"],
                    "errors": {"external_id": [f"与第{seen[data['external_id']]}行的编号重复"]},
                }
            )
            continue
        seen[data["external_id"]] = number
        loaded.append((number, data))

    existing = _by_external_id([data["external_id"] for _, data in loaded])
    savepoint = db.session.begin_nested()
    for number, data in loaded:
        toilet = existing.get(data["external_id"])
        if toilet is not None:
            changes = manage.apply(toilet, data)
            if changes:
                toilet.verified_at = now
                manage.record(toilet, actor, "import", changes, reason="批量导入")
                result["updated"] += 1
            else:
                result["unchanged"] += 1
            continue
        near = manage.duplicates_near(data["lat"], data["lng"])  # autoflush: earlier rows too
        if near and not allow_duplicates:
            result["duplicates"].append(
                {"row": number, "external_id": data["external_id"], "near": near}
            )
            continue
        toilet = Toilet(photo_ids=[], verified_at=now)
        manage.apply(toilet, data)
        db.session.add(toilet)
        db.session.flush()
        manage.record(
            toilet,
            actor,
            "import",
            {k: [None, v] for k, v in data.items() if v not in (None, "")},
            reason="批量导入",
        )
        result["created"] += 1
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return result


def _by_external_id(external_ids: list[str]) -> dict[str, Toilet]:
    found = {}
    for start in range(0, len(external_ids), 500):
        chunk = external_ids[start : start + 500]
        for toilet in db.session.scalars(select(Toilet).where(Toilet.external_id.in_(chunk))):
            found[toilet.external_id] = toilet
    return found


def import_file(actor: User | None, filename: str, raw: bytes, **options) -> dict:
    kind, rows = read(filename, raw)
    return import_rows(actor, rows, file_format=kind, **options)


def describe(result: dict) -> str:
    """The import result as text for the command line, one problem per line."""
    head = "（试运行，未写入）" if result["dry_run"] else ""
    lines = [
        f"{head}共 {result['total']} 行：新增 {result['created']}，更新 {result['updated']}，"
        f"未变 {result['unchanged']}，错误 {len(result['errors'])}，"
        f"疑似重复 {len(result['duplicates'])}"
    ]
    for error in result["errors"]:
        for field, messages in error["errors"].items():
            text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else messages
            lines.append(f"第{error['row']}行 [{error['external_id'] or '-'}] {field}: {text}")
    for dup in result["duplicates"]:
        near = ", ".join(f"#{n['toilet_id']} {n['name']} {n['distance_m']}米" for n in dup["near"])
        lines.append(f"第{dup['row']}行 [{dup['external_id']}] 疑似重复：{near}")
    return "\n".join(lines)


# -- exporting ----------------------------------------------------------------------------------
def osm_tags(toilet: Toilet) -> dict[str, str]:
    """The toilet as OpenStreetMap ``amenity=toilets`` tags, plus ``xiuhua:*`` for the rest."""

    def tri(value: str) -> str | None:
        return None if value == "unknown" else value

    fee = {"yes": "no", "no": "yes"}.get(toilet.free)
    tags = {
        "amenity": "toilets",
        "ref": toilet.external_id or f"xiuhua-{toilet.id}",
        "name": toilet.name,
        "addr:full": toilet.address,
        "addr:district": toilet.district,
        "addr:street": toilet.street,
        "operator": toilet.managing_unit,
        "phone": toilet.contact_phone,
        "opening_hours": toilet.opening_hours,
        "access": "yes" if toilet.access == "public" else "customers",
        "wheelchair": tri(toilet.accessible_stall),
        "changing_table": tri(toilet.changing_table),
        "fee": fee,
        "toilets:paper_supplied": tri(toilet.paper),
        "toilets:handwashing": tri(toilet.handwashing),
        "check_date": toilet.verified_at.astimezone(CST).date().isoformat()
        if toilet.verified_at
        else None,
        "xiuhua:id": str(toilet.id),
        "xiuhua:category": toilet.category,
        "xiuhua:kind": toilet.kind,
        "xiuhua:third_restroom": tri(toilet.third_restroom),
        "xiuhua:mother_baby_room": tri(toilet.mother_baby_room),
        "xiuhua:stalls_male": toilet.stalls_male,
        "xiuhua:stalls_female": toilet.stalls_female,
        "xiuhua:stalls_accessible": toilet.stalls_accessible,
        "xiuhua:status": toilet.status,
        "xiuhua:status_reason": toilet.status_reason,
    }
    return {k: str(v) for k, v in tags.items() if v not in (None, "")}


EXPORT_COLUMNS = (
    "ref", "name", "lat", "lng", "amenity", "addr:full", "addr:district", "addr:street",
    "operator", "phone", "opening_hours", "access", "wheelchair", "changing_table", "fee",
    "toilets:paper_supplied", "toilets:handwashing", "check_date", "xiuhua:id",
    "xiuhua:category", "xiuhua:kind", "xiuhua:third_restroom", "xiuhua:mother_baby_room",
    "xiuhua:stalls_male", "xiuhua:stalls_female", "xiuhua:stalls_accessible",
    "xiuhua:status", "xiuhua:status_reason",
)  # fmt: skip


def _toilets(include_removed: bool) -> Iterator[Toilet]:
    query = select(Toilet).order_by(Toilet.id).execution_options(yield_per=1000)
    if not include_removed:
        query = query.where(Toilet.status != "removed")
    yield from db.session.scalars(query)


def export_csv(include_removed: bool = False) -> str:
    """GCJ-02 coordinates; one column per tag (the importer reads this file back)."""
    out = io.StringIO()
    out.write("\ufeff")  # so Excel opens the Chinese text as UTF-8
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for toilet in _toilets(include_removed):
        writer.writerow(
            {**osm_tags(toilet), "lat": f"{toilet.lat:.7f}", "lng": f"{toilet.lng:.7f}"}
        )
    return out.getvalue()


def export_geojson(include_removed: bool = False) -> str:
    """A FeatureCollection of points in GCJ-02 (said so in ``coordinate_system``)."""
    features = [
        {
            "type": "Feature",
            "id": toilet.id,
            "geometry": {
                "type": "Point",
                "coordinates": [round(toilet.lng, 7), round(toilet.lat, 7)],
            },
            "properties": osm_tags(toilet),
        }
        for toilet in _toilets(include_removed)
    ]
    return json.dumps(
        {"type": "FeatureCollection", "coordinate_system": "GCJ-02", "features": features},
        ensure_ascii=False,
    )
