"""Bulk import (CSV, GeoJSON, API and CLI) and open-data export."""

import csv
import io
import json

from sqlalchemy import func, select

from server.extensions import db
from server.models.toilets import Toilet, ToiletAudit
from server.util import geo
from tests.conftest import auth_headers

IMPORT = "/api/v1/staff/toilets/import"
HEADER = ["external_id", "name", "lat", "lng", "category", "opening_hours", "third_restroom",
          "fee", "address"]  # fmt: skip


def csv_text(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def grid_rows(n: int) -> list[dict]:
    """``n`` toilets about 55 m apart in Xinmi (no two within 30 m)."""
    return [
        {
            "external_id": f"XM-{i:04d}",
            "name": f"公厕{i}",
            "lat": f"{34.50 + (i // 40) * 0.0005:.6f}",
            "lng": f"{113.35 + (i % 40) * 0.0006:.6f}",
            "category": "二类",
            "opening_hours": "Mo-Su 06:00-22:00",
            "third_restroom": "是" if i % 2 else "",
            "fee": "no",
            "address": "溱水路",
        }
        for i in range(n)
    ]


def upload(client, user, text: str, name="toilets.csv", encoding="utf-8", **form):
    data = {"file": (io.BytesIO(text.encode(encoding)), name), **form}
    return client.post(
        IMPORT, data=data, headers=auth_headers(user), content_type="multipart/form-data"
    )


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Toilet))


def test_thousand_rows_three_bad_precise_report_and_idempotent(client, staff):
    rows = grid_rows(1000)
    rows[10]["opening_hours"] = "Mo-Fr 9点-17点"
    rows[500]["lat"] = "0"
    rows[500]["lng"] = "0"
    rows[998]["name"] = ""
    text = csv_text(rows)
    resp = upload(client, staff, text)
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["total"], body["created"], body["updated"]) == (1000, 997, 0)
    # Row numbers are file lines (the header is line 1).
    assert [(e["row"], e["external_id"], sorted(e["errors"])) for e in body["errors"]] == [
        (12, "XM-0010", ["opening_hours"]),
        (502, "XM-0500", ["lat"]),
        (1000, "XM-0998", ["name"]),
    ]
    assert body["duplicates"] == []
    assert count() == 997
    stored = db.session.scalar(select(Toilet).where(Toilet.external_id == "XM-0001"))
    assert stored.category == "class_2" and stored.third_restroom == "yes"
    assert stored.free == "yes"  # OSM fee=no
    assert (
        db.session.scalar(select(Toilet.third_restroom).where(Toilet.external_id == "XM-0002"))
        == "unknown"
    )

    again = upload(client, staff, text).get_json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 997)
    assert len(again["errors"]) == 3 and count() == 997

    rows[1]["opening_hours"] = "24/7"
    changed = upload(client, staff, csv_text(rows)).get_json()
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 996)
    audit = db.session.scalar(
        select(ToiletAudit)
        .where(ToiletAudit.toilet_id == stored.id)
        .order_by(ToiletAudit.id.desc())
    )
    assert audit.action == "import"
    assert audit.changes == {"opening_hours": ["Mo-Su 06:00-22:00", "24/7"]}


def test_likely_duplicates_within_30_m(client, staff):
    rows = grid_rows(2)
    assert upload(client, staff, csv_text(rows)).get_json()["created"] == 2
    near = {**rows[0], "external_id": "NEW-1", "lng": f"{float(rows[0]['lng']) + 0.0002:.6f}"}
    twin = {**rows[1], "external_id": "NEW-2", "lat": f"{float(rows[1]['lat']) + 0.0001:.6f}"}
    also = {**twin, "external_id": "NEW-3", "lng": f"{float(twin['lng']) + 0.0001:.6f}"}
    body = upload(client, staff, csv_text([near, twin, also])).get_json()
    assert body["created"] == 0
    assert [(d["row"], d["external_id"]) for d in body["duplicates"]] == [
        (2, "NEW-1"), (3, "NEW-2"), (4, "NEW-3"),
    ]  # fmt: skip
    assert 15 < body["duplicates"][0]["near"][0]["distance_m"] < 30
    forced = upload(client, staff, csv_text([near]), allow_duplicates="true").get_json()
    assert forced["created"] == 1 and count() == 3


def test_duplicates_inside_the_file_and_repeated_ids(client, staff):
    rows = grid_rows(1)
    same_place = {**rows[0], "external_id": "XM-B"}
    same_id = {**rows[0], "lat": "34.60"}
    body = upload(client, staff, csv_text([rows[0], same_place, same_id])).get_json()
    assert body["created"] == 1
    assert body["duplicates"][0]["external_id"] == "XM-B"
    assert body["errors"][0]["row"] == 4 and "external_id" in body["errors"][0]["errors"]


def test_wgs84_file_is_stored_as_gcj02_and_gbk_is_read(client, staff):
    rows = grid_rows(1)
    rows[0]["name"] = "新密公厕"
    resp = upload(client, staff, csv_text(rows), encoding="gb18030", coord_type="wgs84")
    assert resp.get_json()["created"] == 1
    toilet = db.session.scalar(select(Toilet))
    assert toilet.name == "新密公厕"
    expected = geo.wgs84_to_gcj02(float(rows[0]["lat"]), float(rows[0]["lng"]))
    assert (toilet.lat, toilet.lng) == expected


def test_dry_run_writes_nothing(client, staff):
    body = upload(client, staff, csv_text(grid_rows(5)), dry_run="true").get_json()
    assert body["dry_run"] is True and body["created"] == 5
    assert count() == 0
    assert db.session.scalar(select(func.count()).select_from(ToiletAudit)) == 0


def test_bad_files_and_roles(client, staff, resident):
    assert upload(client, resident, csv_text(grid_rows(1))).status_code == 403
    bad_json = upload(client, staff, '{"type": "Feature"}', name="x.geojson")
    assert bad_json.status_code == 422 and bad_json.get_json()["error"] == "import_bad_geojson"
    not_json = upload(client, staff, "{oops", name="x.geojson")
    assert not_json.status_code == 422
    missing = client.post(IMPORT, data={}, headers=auth_headers(staff))
    assert missing.status_code == 422
    bad_coord = upload(client, staff, csv_text(grid_rows(1)), coord_type="bd09")
    assert bad_coord.status_code == 422
    assert count() == 0


def test_geojson_import_and_export_round_trip(client, staff):
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [113.38 + i * 0.001, 34.53]},
            "properties": {
                "ref": f"G-{i}",
                "name": f"【演示】G{i}",
                "xiuhua:category": "class_1",
                "wheelchair": "yes",
                "changing_table": "no",
                "opening_hours": "24/7",
            },
        }
        for i in range(3)
    ]
    features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": []},
                     "properties": {"ref": "G-bad", "name": "线"}})  # fmt: skip
    collection = json.dumps({"type": "FeatureCollection", "features": features})
    body = upload(client, staff, collection, name="toilets.geojson").get_json()
    assert body["format"] == "geojson" and body["created"] == 3
    assert body["errors"][0]["row"] == 4 and "geometry" in body["errors"][0]["errors"]

    exported = client.get(
        "/api/v1/staff/toilets/export?format=geojson", headers=auth_headers(staff)
    )
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    document = json.loads(exported.data)
    tags = document["features"][0]["properties"]
    assert tags["amenity"] == "toilets" and tags["wheelchair"] == "yes"
    assert tags["changing_table"] == "no" and "toilets:paper_supplied" not in tags  # unknown
    assert document["features"][0]["geometry"]["coordinates"] == [113.38, 34.53]
    back = upload(client, staff, exported.data.decode(), name="export.geojson").get_json()
    assert (back["created"], back["unchanged"], back["errors"]) == (0, 3, [])

    as_csv = client.get("/api/v1/staff/toilets/export?format=csv", headers=auth_headers(staff))
    assert as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.data.decode("utf-8-sig"))))
    assert len(rows) == 3 and rows[0]["ref"] == "G-0" and rows[0]["fee"] == ""
    again = upload(client, staff, as_csv.data.decode("utf-8-sig")).get_json()
    assert (again["created"], again["unchanged"]) == (0, 3)


def test_cli_import_reports_rows_and_exit_code(app, tmp_path):
    rows = grid_rows(4)
    rows[2]["category"] = "豪华"
    path = tmp_path / "toilets.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["toilets", "import", str(path)])
    assert result.exit_code == 1
    assert "新增 3" in result.output and "第4行 [XM-0002] category" in result.output
    assert count() == 3
    again = app.test_cli_runner().invoke(args=["toilets", "import", str(path)])
    assert "新增 0" in again.output and "未变 3" in again.output
    out = tmp_path / "out.geojson"
    exported = app.test_cli_runner().invoke(args=["toilets", "export", str(out)])
    assert exported.exit_code == 0
    assert len(json.loads(out.read_text(encoding="utf-8"))["features"]) == 3
