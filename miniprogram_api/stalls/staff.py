"""Staff: points, sessions, capacities, closures, farmer verification, roster, check-in, stats."""

from flask import Response
from flask.views import MethodView

from miniprogram_api.stalls import staff_blp as blp
from miniprogram_api.stalls.paging import page_of_list, page_of_query
from schemas.common import PageQuerySchema, page_of
from schemas.stalls import (
    BookingSchema,
    ClosureCreateSchema,
    ClosureListQuerySchema,
    ClosureSchema,
    PointCreateSchema,
    PointQrSchema,
    PointSchema,
    PointUpdateSchema,
    ProfileListQuerySchema,
    ReviewSchema,
    RosterQuerySchema,
    RosterSchema,
    SessionSchema,
    SessionUpdateSchema,
    SlotCapacitySchema,
    SlotSchema,
    StaffCheckinSchema,
    StaffFarmerProfileSchema,
    StatsQuerySchema,
    StatsSchema,
)
from server.core.identity import current_user
from server.http.auth import staff_required
from server.services.stalls import checkin, farmers, points, reports
from server.util.clock import local_today
from server.util.privacy import log_access

PROFILE_FIELDS = ("real_name", "phone")
ROSTER_FIELDS = ("farmer_name", "phone")


def _profiles_shown(*profiles):
    log_access(current_user(), "farmer_profile", [p.id for p in profiles], PROFILE_FIELDS)


# -- points and sessions ----------------------------------------------------------------------
@blp.route("/points")
class Points(MethodView):
    @staff_required
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, page_of(PointSchema))
    def get(self, args):
        """All sales points, including inactive ones"""
        return page_of_list(points.list_points(include_inactive=True), args)

    @staff_required
    @blp.arguments(PointCreateSchema)
    @blp.response(201, PointSchema)
    def post(self, args):
        """Create a sales point"""
        args.pop("coord_type", None)
        return points.create_point(current_user(), **args)


@blp.route("/points/<int:point_id>")
class Point(MethodView):
    @staff_required
    @blp.response(200, PointSchema)
    def get(self, point_id):
        """One sales point"""
        return points.get_point(point_id, include_inactive=True)

    @staff_required
    @blp.arguments(PointUpdateSchema(partial=True))
    @blp.response(200, PointSchema)
    def patch(self, args, point_id):
        """Update a sales point (stall count, dates, status ...)"""
        args.pop("coord_type", None)
        point = points.get_point(point_id, include_inactive=True)
        return points.update_point(current_user(), point, **args)


@blp.route("/points/<int:point_id>/qr")
class PointQr(MethodView):
    @staff_required
    @blp.response(200, PointQrSchema)
    def get(self, point_id):
        """The QR payload farmers scan at the point to check in"""
        point = points.get_point(point_id, include_inactive=True)
        return {"point_id": point.id, "point_code": checkin.point_code(point)}


@blp.route("/points/<int:point_id>/sessions")
class Sessions(MethodView):
    @staff_required
    @blp.arguments(SessionSchema)
    @blp.response(201, SessionSchema)
    def post(self, args, point_id):
        """Add a session (e.g. 早市 05:30–09:00) with its default capacity"""
        return points.create_session(points.get_point(point_id, include_inactive=True), **args)


@blp.route("/sessions/<int:session_id>")
class Session(MethodView):
    @staff_required
    @blp.arguments(SessionUpdateSchema(partial=True))
    @blp.response(200, SessionSchema)
    def patch(self, args, session_id):
        """Change a session's times, default capacity, or retire it"""
        return points.update_session(points.get_session_by_id(session_id), **args)


@blp.route("/sessions/<int:session_id>/capacity")
class SlotCapacity(MethodView):
    @staff_required
    @blp.arguments(SlotCapacitySchema)
    @blp.response(200, SlotSchema)
    def put(self, args, session_id):
        """Set one date's capacity (never below the places already booked)"""
        session = points.get_session_by_id(session_id)
        return points.set_slot_capacity(session, args["date"], args["capacity"])


# -- closures ---------------------------------------------------------------------------------
@blp.route("/closures")
class Closures(MethodView):
    @staff_required
    @blp.arguments(ClosureListQuerySchema, location="query")
    @blp.response(200, page_of(ClosureSchema))
    def get(self, args):
        """Closures, by date"""
        query = points.list_closures(
            args.get("point_id"), args.get("from_date"), args.get("to_date")
        )
        return page_of_query(query, args)

    @staff_required
    @blp.arguments(ClosureCreateSchema)
    @blp.response(201, ClosureSchema)
    @blp.alt_response(404, response="NOT_FOUND")  # point_not_found, session_not_found
    def post(self, args):
        """Close a point or a session for a day: bookings and waitlist cancelled and notified"""
        point = points.get_point(args.pop("point_id"), include_inactive=True)
        closure, bookings_count, waiting_count = points.create_closure(
            current_user(),
            point,
            args["date"],
            args["reason_type"],
            args["reason"],
            args.get("session_id"),
        )
        closure.cancelled_bookings = bookings_count
        closure.cancelled_waiting = waiting_count
        return closure


@blp.route("/closures/<int:closure_id>")
class Closure(MethodView):
    @staff_required
    @blp.response(204)
    def delete(self, closure_id):
        """Lift a closure (cancelled bookings stay cancelled)"""
        points.delete_closure(points.get_closure(closure_id))


# -- farmer verification ----------------------------------------------------------------------
@blp.route("/farmer-profiles")
class FarmerProfiles(MethodView):
    @staff_required
    @blp.arguments(ProfileListQuerySchema, location="query")
    @blp.response(200, page_of(StaffFarmerProfileSchema))
    def get(self, args):
        """Farmer profiles to verify (status=pending) or all"""
        page = page_of_query(farmers.list_profiles(args.get("status")), args, farmers.with_strikes)
        _profiles_shown(*page["items"])
        return page


@blp.route("/farmer-profiles/<int:profile_id>")
class FarmerProfile(MethodView):
    @staff_required
    @blp.response(200, StaffFarmerProfileSchema)
    def get(self, profile_id):
        """One farmer profile, with the full phone number"""
        profile = farmers.get_profile_by_id(profile_id)
        _profiles_shown(profile)
        return farmers.with_strikes(profile)


@blp.route("/farmer-profiles/<int:profile_id>/review")
class ReviewProfile(MethodView):
    @staff_required
    @blp.arguments(ReviewSchema)
    @blp.response(200, StaffFarmerProfileSchema)
    def post(self, args, profile_id):
        """Approve or reject a farmer profile (the farmer is notified)"""
        profile = farmers.get_profile_by_id(profile_id)
        farmers.review(current_user(), profile, args["decision"], args.get("reason"))
        _profiles_shown(profile)
        return farmers.with_strikes(profile)


# -- the day on site --------------------------------------------------------------------------
@blp.route("/roster")
class Roster(MethodView):
    @staff_required
    @blp.arguments(RosterQuerySchema, location="query")
    @blp.response(200, RosterSchema)
    @blp.alt_response(404, response="NOT_FOUND")  # point_not_found
    def get(self, args):
        """Day roster of a point: stall number, farmer, produce, check-in state"""
        point = points.get_point(args["point_id"], include_inactive=True)
        day = args["date"] or local_today()
        rows = reports.roster(point, day)
        log_access(current_user(), "stall_booking", [r["booking_id"] for r in rows], ROSTER_FIELDS)
        return {"point_id": point.id, "date": day, "rows": rows}


@blp.route("/roster.csv")
class RosterCsv(MethodView):
    @staff_required
    @blp.arguments(RosterQuerySchema, location="query")
    @blp.response(200, content_type="text/csv", description="The roster as CSV (UTF-8, BOM)")
    @blp.alt_response(404, response="NOT_FOUND")  # point_not_found
    def get(self, args):
        """Day roster of a point as CSV"""
        point = points.get_point(args["point_id"], include_inactive=True)
        day = args["date"] or local_today()
        name = f"roster-{point.id}-{day.isoformat()}.csv"
        rows = reports.roster(point, day)  # phones masked in the file; names are not
        log_access(
            current_user(), "stall_booking", [r["booking_id"] for r in rows], ("farmer_name",)
        )
        return Response(
            reports.roster_csv(point, day, rows),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


@blp.route("/checkin")
class ScanCheckin(MethodView):
    @staff_required
    @blp.arguments(StaffCheckinSchema)
    @blp.response(200, BookingSchema)
    def post(self, args):
        """Check a farmer in by scanning the code on their phone"""
        booking = checkin.staff_scan(current_user(), args["code"], args.get("point_id"))
        return checkin.present(booking)


@blp.route("/bookings/<int:booking_id>/checkin")
class ManualCheckin(MethodView):
    @staff_required
    @blp.response(200, BookingSchema)
    def post(self, booking_id):
        """Check a farmer in by hand (e.g. their phone is flat)"""
        return checkin.present(checkin.manual(current_user(), booking_id))


@blp.route("/stats")
class Stats(MethodView):
    @staff_required
    @blp.arguments(StatsQuerySchema, location="query")
    @blp.response(200, StatsSchema)
    @blp.alt_response(404, response="NOT_FOUND")  # point_not_found
    def get(self, args):
        """Utilisation per point and session, no-show rate, farmers served per week"""
        return reports.statistics(args["from_date"], args["to_date"], args.get("point_id"))
