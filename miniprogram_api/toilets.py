"""Toilet finder: residents search, rate and report; staff manage, import and export."""

from flask import Response, current_app, g, request
from flask.views import MethodView

from schemas.common import PageQuerySchema, page_of
from schemas.toilets import (
    AuditSchema,
    CommentSchema,
    ExportQuerySchema,
    ImportFileSchema,
    ImportFormSchema,
    ImportResultSchema,
    ModerateSchema,
    MyRatingSchema,
    NearbyQuerySchema,
    NearbySchema,
    RatingSchema,
    ReportCreateSchema,
    ReportResolveSchema,
    ReportSchema,
    StaffCommentSchema,
    StaffReportQuerySchema,
    StaffReportSchema,
    StaffToiletQuerySchema,
    StaffToiletSchema,
    StatusChangeSchema,
    ToiletCreateSchema,
    ToiletDetailSchema,
    ToiletImportRowSchema,
    ToiletListQuerySchema,
    ToiletSchema,
    ToiletUpdateSchema,
    dump_nearby,
)
from server.core.blueprint import Blueprint
from server.core.identity import current_user
from server.core.ratelimit import per_user
from server.core.transaction import dumps_bytes
from server.http.auth import auth_required, staff_required
from server.http.idempotency import idempotent
from server.services import toilets as service
from server.services.data_versions import read as read_version
from server.services.toilets import feedback, manage, search, transfer
from server.util.clock import local_now

blp = Blueprint(
    "toilets", __name__, url_prefix="/api/v1/toilets", description="Public toilet finder"
)
staff_blp = Blueprint(
    "toilets_staff",
    __name__,
    url_prefix="/api/v1/staff/toilets",
    description="Public toilets: staff data management",
)

MAP_CACHE = "public, max-age=60"
# One instance, not the class: webargs would build (and deep-copy the fields of) a new schema
# for every request of the app's hottest endpoint.
NEARBY_QUERY = NearbyQuerySchema()


@blp.record_once
def _answer_revalidations_early(state):
    """Repeated revalidations of the map layer are answered by ``server.http.not_modified``."""
    state.app.extensions["not_modified"].route(
        blp.url_prefix, search.LIST_VERSION, {"Cache-Control": MAP_CACHE}
    )


@blp.after_request
def _cacheable_not_modified(response):
    """A 304 keeps the list's caching headers; every ETag the list answers with is
    remembered for the early 304 (``server.http.not_modified``)."""
    if request.endpoint != "toilets.Toilets" or response.status_code not in (200, 304):
        return response
    if response.status_code == 304:
        response.headers["Cache-Control"] = MAP_CACHE
        tags = request.if_none_match.as_set(include_weak=True)
        if len(tags) == 1:
            response.set_etag(next(iter(tags)))
    etag, _weak = response.get_etag()
    if etag and "list_version" in g:
        version, changes_at = g.list_version
        current_app.extensions["not_modified"].remember(
            request.path, request.environ.get("QUERY_STRING", ""), version, etag, changes_at
        )
    return response


def _page(items, total, args) -> dict:
    return {
        "items": items,
        "page": args["page"],
        "page_size": args["page_size"],
        "total": total,
        "has_more": args["page"] * args["page_size"] < total,
    }


# -- residents ----------------------------------------------------------------------------------
@blp.route("")
class Toilets(MethodView):
    @blp.etag
    @blp.arguments(ToiletListQuerySchema, location="query")
    @blp.response(200, page_of(ToiletSchema), headers={"Cache-Control": {"schema": {}}})
    def get(self, args):
        """Toilets in a map box (or all), for caching the map layer (ETag, If-None-Match)"""
        version = read_version(search.LIST_VERSION)  # before the data: never newer than it
        items, total = search.in_bbox(
            args.get("bbox"),
            district=args.get("district"),
            page=args["page"],
            page_size=args["page_size"],
        )
        changes = [shown.next_change for shown in items if shown.next_change is not None]
        g.list_version = (version, min(changes, default=None))
        return _page(items, total, args), {"Cache-Control": MAP_CACHE}


@blp.route("/nearby")
class Nearby(MethodView):
    @blp.arguments(NEARBY_QUERY, location="query")
    @blp.response(200, NearbySchema)
    def get(self, args):
        """The nearest toilets, nearest first, with open-now state and walking time"""
        result = search.nearby(
            args["lat"],
            args["lng"],
            radius_m=args["radius"],
            limit=args["limit"],
            open_now=args["open_now"],
            facilities=tuple(name for name in search.SEARCH_FILTERS if args[name]),
        )
        # The hot path: NearbySchema's dump written out (a Response skips the schema's dump).
        return current_app.response_class(
            dumps_bytes(dump_nearby(result)), mimetype="application/json"
        )


@blp.route("/<int:toilet_id>")
class ToiletDetail(MethodView):
    @blp.response(200, ToiletDetailSchema)
    def get(self, toilet_id):
        """A toilet: facilities, hours for the week, ratings, recent reports"""
        return service.detail(toilet_id)


@blp.route("/<int:toilet_id>/comments")
class Comments(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, page_of(CommentSchema))
    def get(self, args, toilet_id):
        """Residents' published comments on a toilet (authors not shown)"""
        items, total = feedback.public_comments(toilet_id, args["page"], args["page_size"])
        return _page(items, total, args)


@blp.route("/<int:toilet_id>/rating")
class MyRating(MethodView):
    @auth_required()
    @blp.response(200, MyRatingSchema)
    def get(self, toilet_id):
        """My rating of a toilet"""
        return feedback.my_rating(current_user(), toilet_id)

    @auth_required()
    @per_user("TOILET_RATING")
    @blp.arguments(RatingSchema)
    @blp.response(200, MyRatingSchema)
    def put(self, args, toilet_id):
        """Rate a toilet (one rating per person, can be changed)"""
        return feedback.rate(current_user(), toilet_id, **args)


@blp.route("/<int:toilet_id>/reports")
class Reports(MethodView):
    @auth_required()
    @per_user("TOILET_REPORT")
    @idempotent("toilet_report")
    @blp.arguments(ReportCreateSchema)
    @blp.response(201, ReportSchema)
    def post(self, args, toilet_id):
        """Report a problem (closed, wrong info, dirty, broken) or confirm the data"""
        return feedback.create_report(current_user(), toilet_id, **args)


# -- staff --------------------------------------------------------------------------------------
@staff_blp.route("")
class StaffToilets(MethodView):
    @staff_required
    @staff_blp.arguments(StaffToiletQuerySchema, location="query")
    @staff_blp.response(200, page_of(StaffToiletSchema))
    def get(self, args):
        """Every toilet, removed ones too, by name or status"""
        items, total = manage.listing(
            q=args.get("q"),
            status=args.get("status"),
            page=args["page"],
            page_size=args["page_size"],
        )
        return _page([search.shown(t) for t in items], total, args)

    @staff_required
    @staff_blp.arguments(ToiletCreateSchema)
    @staff_blp.response(201, StaffToiletSchema)
    def post(self, args):
        """Add a toilet (refused within 30 m of another unless allow_duplicate)"""
        allow = args.pop("allow_duplicate")
        photo_ids = args.pop("photo_ids", None)
        toilet = manage.create(current_user(), args, allow_duplicate=allow, photo_ids=photo_ids)
        return service.detail(toilet.id)


@staff_blp.route("/<int:toilet_id>")
class StaffToilet(MethodView):
    @staff_required
    @staff_blp.response(200, StaffToiletSchema)
    def get(self, toilet_id):
        """A toilet with its external id"""
        return service.detail(toilet_id)

    @staff_required
    @staff_blp.arguments(ToiletUpdateSchema)
    @staff_blp.response(200, StaffToiletSchema)
    def patch(self, args, toilet_id):
        """Change a toilet's data (recorded in its history)"""
        args.pop("allow_duplicate", None)
        photo_ids = args.pop("photo_ids", None)
        manage.update(current_user(), manage.get(toilet_id), args, photo_ids=photo_ids)
        return service.detail(toilet_id)


@staff_blp.route("/<int:toilet_id>/status")
class StaffStatus(MethodView):
    @staff_required
    @staff_blp.arguments(StatusChangeSchema)
    @staff_blp.response(200, StaffToiletSchema)
    def post(self, args, toilet_id):
        """Open, temporarily close (reason, reopening date) or remove (reason) a toilet"""
        manage.change_status(current_user(), manage.get(toilet_id), **args)
        return service.detail(toilet_id)


@staff_blp.route("/<int:toilet_id>/verify")
class StaffVerify(MethodView):
    @staff_required
    @staff_blp.response(200, StaffToiletSchema)
    def post(self, toilet_id):
        """Confirm on site that the toilet's data is accurate"""
        manage.verify(current_user(), manage.get(toilet_id), reason="工作人员现场核实")
        return service.detail(toilet_id)


@staff_blp.route("/<int:toilet_id>/history")
class StaffHistory(MethodView):
    @staff_required
    @staff_blp.arguments(PageQuerySchema, location="query")
    @staff_blp.response(200, page_of(AuditSchema))
    def get(self, args, toilet_id):
        """Who changed what, and when (newest first)"""
        items, total = manage.history(manage.get(toilet_id), args["page"], args["page_size"])
        return _page(items, total, args)


@staff_blp.route("/import")
class StaffImport(MethodView):
    @staff_required
    @staff_blp.arguments(ImportFormSchema, location="form")
    @staff_blp.arguments(ImportFileSchema, location="files")
    @staff_blp.response(200, ImportResultSchema)
    def post(self, form, files):
        """Import toilets from CSV or GeoJSON; bad rows are reported, not imported"""
        upload = files["file"]
        return transfer.import_file(
            current_user(),
            upload.filename or "",
            upload.read(),
            row_schema=ToiletImportRowSchema(),
            **form,
        )


@staff_blp.route("/export")
class StaffExport(MethodView):
    @staff_required
    @staff_blp.arguments(ExportQuerySchema, location="query")
    @staff_blp.response(200, content_type="application/geo+json")
    @staff_blp.alt_response(200, content_type="text/csv", success=True)
    def get(self, args):
        """Export every toilet as CSV or GeoJSON with OpenStreetMap tags (GCJ-02)"""
        stamp = local_now().strftime("%Y%m%d")
        if args["format"] == "csv":
            body, mimetype = transfer.export_csv(args["include_removed"]), "text/csv"
        else:
            body, mimetype = (
                transfer.export_geojson(args["include_removed"]),
                "application/geo+json",
            )
        name = f"toilets-{stamp}.{args['format']}"
        return Response(
            body,
            mimetype=mimetype,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


@staff_blp.route("/reports")
class StaffReports(MethodView):
    @staff_required
    @staff_blp.arguments(StaffReportQuerySchema, location="query")
    @staff_blp.response(200, page_of(StaffReportSchema))
    def get(self, args):
        """Residents' problem reports, oldest first (status=open: the queue)"""
        items, total = feedback.list_reports(
            status=args.get("status"),
            toilet_id=args.get("toilet_id"),
            page=args["page"],
            page_size=args["page_size"],
        )
        return _page(items, total, args)


@staff_blp.route("/reports/<int:report_id>/resolve")
class StaffResolve(MethodView):
    @staff_required
    @staff_blp.arguments(ReportResolveSchema)
    @staff_blp.response(200, StaffReportSchema)
    def post(self, args, report_id):
        """Close a report as resolved or dismissed; the reporter is notified"""
        return feedback.resolve_report(current_user(), report_id, **args)


@staff_blp.route("/comments")
class StaffComments(MethodView):
    @staff_required
    @staff_blp.arguments(PageQuerySchema, location="query")
    @staff_blp.response(200, page_of(StaffCommentSchema))
    def get(self, args):
        """Comments held for review after WeChat's content check"""
        items, total = feedback.hidden_comments(args["page"], args["page_size"])
        return _page(items, total, args)


@staff_blp.route("/comments/<int:rating_id>/moderate")
class StaffModerate(MethodView):
    @staff_required
    @staff_blp.arguments(ModerateSchema)
    @staff_blp.response(200, StaffCommentSchema)
    def post(self, args, rating_id):
        """Publish a held comment, or delete its text"""
        return feedback.moderate_comment(rating_id, args["publish"])
