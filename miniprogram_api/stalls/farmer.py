"""Farmers: profile, points and availability, booking, cancelling, waitlist, check-in."""

import datetime as dt

from flask.views import MethodView

from miniprogram_api.stalls import blp
from miniprogram_api.stalls.paging import page_of_list, page_of_query
from schemas.common import PageQuerySchema, page_of
from schemas.stalls import (
    AvailabilitySchema,
    BookingSchema,
    CheckinByPointSchema,
    DateRangeQuerySchema,
    FarmerProfileSchema,
    FarmerProfileUpdateSchema,
    MyBookingsQuerySchema,
    PointSchema,
    PointsQuerySchema,
    SlotRequestSchema,
    WaitlistEntrySchema,
)
from server.core.identity import current_user
from server.core.ratelimit import per_user
from server.http.auth import auth_required
from server.http.idempotency import idempotent
from server.services.stalls import bookings, checkin, farmers, points
from server.util.clock import local_today


# -- profile ----------------------------------------------------------------------------------
@blp.route("/stalls/farmer-profile")
class FarmerProfile(MethodView):
    @auth_required()
    @blp.response(200, FarmerProfileSchema)
    @blp.alt_response(404, response="NOT_FOUND")  # farmer_profile_not_found: not applied yet
    def get(self):
        """My farmer profile (status, suspension end date)"""
        return farmers.with_strikes(farmers.get_profile(current_user()))

    @auth_required()
    @blp.arguments(FarmerProfileSchema)
    @blp.response(201, FarmerProfileSchema)
    def post(self, args):
        """Apply as a farmer (or re-apply after a rejection) with my bound phone"""
        return farmers.with_strikes(farmers.apply(current_user(), **args))

    @auth_required()
    @blp.arguments(FarmerProfileUpdateSchema(partial=True))
    @blp.response(200, FarmerProfileSchema)
    @blp.alt_response(404, response="NOT_FOUND")  # farmer_profile_not_found: not applied yet
    def patch(self, args):
        """Update my farmer profile (identity changes are verified again)"""
        return farmers.with_strikes(farmers.update(current_user(), **args))


# -- points -----------------------------------------------------------------------------------
@blp.route("/stalls/points")
class Points(MethodView):
    @blp.arguments(PointsQuerySchema, location="query")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, page_of(PointSchema))
    def get(self, where, paging):
        """Sales points, nearest first when a location is given"""
        return page_of_list(points.list_points(where.get("lat"), where.get("lng")), paging)


@blp.route("/stalls/points/<int:point_id>")
class Point(MethodView):
    @blp.response(200, PointSchema)
    def get(self, point_id):
        """One sales point with its sessions and rules"""
        return points.get_point(point_id)


@blp.route("/stalls/points/<int:point_id>/availability")
class Availability(MethodView):
    @blp.arguments(DateRangeQuerySchema, location="query")
    @blp.response(200, AvailabilitySchema)
    def get(self, args, point_id):
        """Places per date and session: capacity, booked, remaining, closed, booking open"""
        start = args.get("from_date") or local_today()
        end = args.get("to_date") or start + dt.timedelta(days=7)
        point = points.get_point(point_id)
        return {"point_id": point.id, "days": points.availability(point, start, end)}


# -- bookings ---------------------------------------------------------------------------------
@blp.route("/stalls/bookings")
class Bookings(MethodView):
    @auth_required()
    @per_user("BOOKING")
    @idempotent("stall_booking")
    @blp.arguments(SlotRequestSchema)
    @blp.response(201, BookingSchema)
    @blp.alt_response(404, response="NOT_FOUND")  # point_not_found, session_not_found
    def post(self, args):
        """Book a stall: confirmed with a stall number and check-in code, or 409 full"""
        booking = bookings.book(current_user(), args["point_id"], args["date"], args["session_id"])
        return checkin.present(booking)


@blp.route("/me/bookings")
class MyBookings(MethodView):
    @auth_required()
    @blp.arguments(MyBookingsQuerySchema, location="query")
    @blp.response(200, page_of(BookingSchema))
    def get(self, args):
        """My stall bookings (upcoming first with when=upcoming)"""
        query = bookings.my_bookings(current_user(), args.get("when"))
        return page_of_query(query, args, checkin.present)


@blp.route("/stalls/bookings/<int:booking_id>")
class Booking(MethodView):
    @auth_required()
    @blp.response(200, BookingSchema)
    def get(self, booking_id):
        """One of my bookings with its check-in code"""
        return checkin.present(bookings.get_booking(current_user(), booking_id))


@blp.route("/stalls/bookings/<int:booking_id>/cancel")
class CancelBooking(MethodView):
    @auth_required()
    @blp.response(200, BookingSchema)
    def post(self, booking_id):
        """Cancel my booking (late within 2 hours of the start: counts as a strike)"""
        return checkin.present(bookings.cancel(current_user(), booking_id))


@blp.route("/stalls/bookings/<int:booking_id>/checkin")
class CheckinAtPoint(MethodView):
    @auth_required()
    @blp.arguments(CheckinByPointSchema)
    @blp.response(200, BookingSchema)
    def post(self, args, booking_id):
        """Check in by scanning the point's QR code, from within 300 m"""
        booking = checkin.farmer_scan(
            current_user(), booking_id, args["point_code"], args["lat"], args["lng"]
        )
        return checkin.present(booking)


# -- waitlist ---------------------------------------------------------------------------------
@blp.route("/stalls/waitlist")
class Waitlist(MethodView):
    @auth_required()
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, page_of(WaitlistEntrySchema))
    def get(self, args):
        """My waitlist entries"""
        return page_of_query(bookings.my_waitlist(current_user()), args, bookings.with_position)

    @auth_required()
    @per_user("WAITLIST")
    @idempotent("stall_waitlist")
    @blp.arguments(SlotRequestSchema)
    @blp.response(201, WaitlistEntrySchema)
    @blp.alt_response(404, response="NOT_FOUND")  # point_not_found, session_not_found
    def post(self, args):
        """Join the waitlist of a full session: booked automatically when a place frees up"""
        entry = bookings.join_waitlist(
            current_user(), args["point_id"], args["date"], args["session_id"]
        )
        return bookings.with_position(entry)


@blp.route("/stalls/waitlist/<int:entry_id>")
class WaitlistEntry(MethodView):
    @auth_required()
    @blp.response(204)
    def delete(self, entry_id):
        """Leave the waitlist"""
        bookings.leave_waitlist(current_user(), entry_id)
