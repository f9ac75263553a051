"""Staff: the case queue, workflow actions, extensions, reference data, calendar, statistics."""

import datetime as dt

from flask.views import MethodView

from schemas.complaints.staff import (
    CalendarDaySchema,
    CalendarQuerySchema,
    CategoryUpdateSchema,
    ComplaintStatsSchema,
    DispatchSchema,
    ExtensionCreateSchema,
    ExtensionDecisionSchema,
    ExtensionSchema,
    MergeSchema,
    QueueQuerySchema,
    ResolveSchema,
    StaffCategorySchema,
    StaffComplaintPageSchema,
    StaffComplaintSchema,
    StaffNoteSchema,
    StaffReasonSchema,
    StatsQuerySchema,
    UnitSchema,
    UnitUpdateSchema,
    VerifySchema,
    WorkHoursSchema,
    WorkHoursUpdateSchema,
)
from server.core.blueprint import Blueprint
from server.core.errors import AppError
from server.core.identity import current_user
from server.http.auth import admin_required, staff_required
from server.services.complaints import calendar, cases, deadline_extensions, staff, stats, workflow
from server.util.privacy import log_access

# The staff view of a case shows the reporter's contact phone and nickname unmasked.
CASE_FIELDS = ("contact_phone", "reporter")


def _shown(complaint):
    log_access(current_user(), "complaint", [complaint.id], CASE_FIELDS)
    return complaint


blp = Blueprint(
    "complaints_staff",
    __name__,
    url_prefix="/api/v1/staff",
    description="Complaints (12319) for staff: queue, workflow, reference data, statistics",
)


def _queue_args(args: dict) -> dict:
    area = None
    if args.get("south") is not None:
        area = (args.pop("south"), args.pop("west"), args.pop("north"), args.pop("east"))
    args["created_from"] = args.pop("date_from", None)
    args["created_to"] = args.pop("date_to", None)
    return {**args, "area": area}


@blp.route("/complaints")
class Queue(MethodView):
    @staff_required
    @blp.arguments(QueueQuerySchema, location="query")
    @blp.response(200, StaffComplaintPageSchema)
    def get(self, args):
        """The case queue with filters and counts by status"""
        return staff.queue(**_queue_args(args))


@blp.route("/complaints/review")
class ReviewQueue(MethodView):
    @staff_required
    @blp.arguments(QueueQuerySchema, location="query")
    @blp.response(200, StaffComplaintPageSchema)
    def get(self, args):
        """Cases held by the content check, waiting for a person"""
        return staff.queue(held=True, **_queue_args(args))


@blp.route("/complaints/<int:complaint_id>")
class StaffComplaint(MethodView):
    @staff_required
    @blp.response(200, StaffComplaintSchema)
    def get(self, complaint_id):
        """A case with its full history, reporter contact and possible next steps"""
        return _shown(cases.get(complaint_id, for_update=False))


@blp.route("/complaints/<int:complaint_id>/release")
class Release(MethodView):
    @staff_required
    @blp.arguments(StaffNoteSchema)
    @blp.response(200, StaffComplaintSchema)
    def post(self, args, complaint_id):
        """Release a case held by the content check"""
        return _shown(
            workflow.release(
                cases.get(complaint_id, for_update=True),
                current_user(),
                internal_note=args["internal_note"],
            )
        )


@blp.route("/complaints/<int:complaint_id>/accept")
class Accept(MethodView):
    @staff_required
    @blp.arguments(StaffNoteSchema)
    @blp.response(200, StaffComplaintSchema)
    def post(self, args, complaint_id):
        """Open a case (立案)"""
        return _shown(
            workflow.accept(cases.get(complaint_id, for_update=True), current_user(), **args)
        )


@blp.route("/complaints/<int:complaint_id>/reject")
class Reject(MethodView):
    @staff_required
    @blp.arguments(StaffReasonSchema)
    @blp.response(200, StaffComplaintSchema)
    def post(self, args, complaint_id):
        """Do not open a case (不予立案), with the reason shown to the reporter"""
        return _shown(
            workflow.reject(cases.get(complaint_id, for_update=True), current_user(), **args)
        )


@blp.route("/complaints/<int:complaint_id>/dispatch")
class Dispatch(MethodView):
    @staff_required
    @blp.arguments(DispatchSchema)
    @blp.response(200, StaffComplaintSchema)
    def post(self, args, complaint_id):
        """Dispatch to a unit (派遣); the deadline is computed from the category's limit"""
        return _shown(
            workflow.dispatch(cases.get(complaint_id, for_update=True), current_user(), **args)
        )


@blp.route("/complaints/<int:complaint_id>/return")
class Return(MethodView):
    @staff_required
    @blp.arguments(StaffReasonSchema)
    @blp.response(200, StaffComplaintSchema)
    def post(self, args, complaint_id):
        """The unit returns the case (回退) with a reason, to be dispatched again"""
        return _shown(
            workflow.return_case(cases.get(complaint_id, for_update=True), current_user(), **args)
        )


@blp.route("/complaints/<int:complaint_id>/resolve")
class Resolve(MethodView):
    @staff_required
    @blp.arguments(ResolveSchema)
    @blp.response(200, StaffComplaintSchema)
    def post(self, args, complaint_id):
        """Report the problem fixed (处置完成) with after-photos"""
        return _shown(
            workflow.resolve(cases.get(complaint_id, for_update=True), current_user(), **args)
        )


@blp.route("/complaints/<int:complaint_id>/verify")
class Verify(MethodView):
    @staff_required
    @blp.arguments(VerifySchema)
    @blp.response(200, StaffComplaintSchema)
    def post(self, args, complaint_id):
        """Verify the fix (核查): passed, or back to the unit (返工)"""
        return _shown(
            workflow.verify(cases.get(complaint_id, for_update=True), current_user(), **args)
        )


@blp.route("/complaints/<int:complaint_id>/close")
class Close(MethodView):
    @staff_required
    @blp.arguments(StaffNoteSchema)
    @blp.response(200, StaffComplaintSchema)
    def post(self, args, complaint_id):
        """Close a verified case as fixed (结案)"""
        return _shown(
            workflow.close(cases.get(complaint_id, for_update=True), current_user(), **args)
        )


@blp.route("/complaints/<int:complaint_id>/close-unfixed")
class CloseUnfixed(MethodView):
    @staff_required
    @blp.arguments(StaffReasonSchema)
    @blp.response(200, StaffComplaintSchema)
    def post(self, args, complaint_id):
        """Close a case as not fixed, with the reason (kept apart from fixed)"""
        return _shown(
            workflow.close_unfixed(cases.get(complaint_id, for_update=True), current_user(), **args)
        )


@blp.route("/complaints/<int:complaint_id>/merge")
class Merge(MethodView):
    @staff_required
    @blp.arguments(MergeSchema)
    @blp.response(200, StaffComplaintSchema)
    def post(self, args, complaint_id):
        """Merge a duplicate into another case; its reporter and followers follow that case"""
        into_id = args.pop("into_id")
        # Lock both rows in id order so two opposite merges cannot deadlock.
        locked = {i: cases.get(i, for_update=True) for i in sorted({complaint_id, into_id})}
        return _shown(workflow.merge(locked[complaint_id], locked[into_id], current_user(), **args))


@blp.route("/complaints/<int:complaint_id>/extensions")
class Extensions(MethodView):
    @staff_required
    @blp.arguments(ExtensionCreateSchema)
    @blp.response(201, ExtensionSchema)
    def post(self, args, complaint_id):
        """Ask for more time (延期), with a reason; another staff member decides"""
        return deadline_extensions.request_extension(
            cases.get(complaint_id, for_update=True), current_user(), **args
        )


@blp.route("/complaints/<int:complaint_id>/extensions/<int:extension_id>/decision")
class ExtensionDecision(MethodView):
    @staff_required
    @blp.arguments(ExtensionDecisionSchema)
    @blp.response(200, ExtensionSchema)
    def post(self, args, complaint_id, extension_id):
        """Approve (the deadline moves) or deny an extension request"""
        extension = staff.get_extension(complaint_id, extension_id)
        return deadline_extensions.decide_extension(extension, current_user(), **args)


@blp.route("/complaints/extensions")
class PendingExtensions(MethodView):
    @staff_required
    @blp.response(200, ExtensionSchema(many=True))
    def get(self):
        """Extension requests waiting for a decision"""
        return staff.pending_extensions()


# -- reference data (admin edits) -----------------------------------------------------------------
@blp.route("/complaints/categories")
class StaffCategories(MethodView):
    @staff_required
    @blp.response(200, StaffCategorySchema(many=True))
    def get(self):
        """Every category, inactive ones too"""
        return staff.list_categories(include_inactive=True)

    @admin_required
    @blp.arguments(StaffCategorySchema)
    @blp.response(201, StaffCategorySchema)
    def post(self, args):
        """Add a category (admin)"""
        return staff.create_category(**args)


@blp.route("/complaints/categories/<int:category_id>")
class StaffCategory(MethodView):
    @admin_required
    @blp.arguments(CategoryUpdateSchema(partial=True))
    @blp.response(200, StaffCategorySchema)
    def patch(self, args, category_id):
        """Edit a category: name, icon, unit, time limit, active (admin)"""
        return staff.update_category(staff.get_category(category_id), **args)


@blp.route("/complaints/units")
class Units(MethodView):
    @staff_required
    @blp.response(200, UnitSchema(many=True))
    def get(self):
        """Responsible units"""
        return staff.list_units()

    @admin_required
    @blp.arguments(UnitSchema)
    @blp.response(201, UnitSchema)
    def post(self, args):
        """Add a responsible unit (admin)"""
        return staff.create_unit(**args)


@blp.route("/complaints/units/<int:unit_id>")
class Unit(MethodView):
    @admin_required
    @blp.arguments(UnitUpdateSchema(partial=True))
    @blp.response(200, UnitSchema)
    def patch(self, args, unit_id):
        """Edit a responsible unit (admin)"""
        return staff.update_unit(staff.get_unit(unit_id), **args)


@blp.route("/complaints/calendar")
class Calendar(MethodView):
    @staff_required
    @blp.arguments(CalendarQuerySchema, location="query")
    @blp.response(200, CalendarDaySchema(many=True))
    def get(self, args):
        """Holidays and make-up working days (调休) of a year"""
        return calendar.list_days(args["year"])


@blp.route("/complaints/calendar/days/<string(length=10):day>")
class CalendarDay(MethodView):
    @admin_required
    @blp.arguments(CalendarDaySchema)
    @blp.response(200, CalendarDaySchema)
    def put(self, args, day):
        """Mark a date as a holiday or a make-up working day (admin)"""
        return calendar.set_day(_date(day), args["kind"], args["name"])

    @admin_required
    @blp.response(204)
    def delete(self, day):
        """Make a date an ordinary day again (admin)"""
        calendar.delete_day(_date(day))


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise AppError(404, "not_found", "日期格式应为 YYYY-MM-DD") from None


@blp.route("/complaints/calendar/hours")
class WorkHours(MethodView):
    @staff_required
    @blp.response(200, WorkHoursSchema)
    def get(self):
        """Office hours of every working day"""
        return {"periods": calendar.list_periods()}

    @admin_required
    @blp.arguments(WorkHoursUpdateSchema)
    @blp.response(200, WorkHoursSchema)
    def put(self, args):
        """Replace the office hours (admin); new deadlines use them"""
        periods = [(p["start_time"], p["end_time"]) for p in args["periods"]]
        return {"periods": calendar.set_periods(periods)}


@blp.route("/stats/complaints")
class Stats(MethodView):
    @staff_required
    @blp.arguments(StatsQuerySchema, location="query")
    @blp.response(200, ComplaintStatsSchema)
    def get(self, args):
        """Case figures for a period: collected, opened, closed, due, rates, rework, by group"""
        return stats.complaint_stats(
            args["date_from"], args["date_to"], args.get("category"), args.get("unit")
        )
