"""Citizens: categories, filing with photos, similar cases, following, my cases, rating."""

from flask.views import MethodView

from schemas.common import page_of
from schemas.complaints.citizen import (
    CategoryGroupSchema,
    ComplaintCreateSchema,
    ComplaintDetailSchema,
    ComplaintListItemSchema,
    ComplaintRatingSchema,
    MyComplaintsQuerySchema,
    ReopenSchema,
    SimilarQuerySchema,
    SimilarSchema,
)
from server.core.blueprint import Blueprint
from server.core.identity import current_user
from server.core.ratelimit import per_user
from server.http.auth import auth_required
from server.http.idempotency import idempotent
from server.services.complaints import cases, reporter, staff
from server.util.clock import utcnow

blp = Blueprint(
    "complaints", __name__, url_prefix="/api/v1", description="Complaints (12319) for citizens"
)


class ComplaintView:
    """A case as one viewer sees it: the reporter gets ``mine``; everyone gets ``following``."""

    def __init__(self, complaint, user):
        self._complaint = complaint
        is_reporter = user is not None and complaint.reporter_id == user.id
        self.following = cases.is_following(complaint, user)
        self.mine = (
            {
                "anonymous": complaint.anonymous,
                "contact_phone": complaint.contact_phone,
                "rating_comment": complaint.rating_comment,
                "actions": reporter.citizen_actions(complaint, user, utcnow()),
            }
            if is_reporter
            else None
        )

    def __getattr__(self, name):
        return getattr(self._complaint, name)


@blp.route("/complaints/categories")
class Categories(MethodView):
    @blp.etag
    @blp.response(200, CategoryGroupSchema(many=True))
    def get(self):
        """Problem categories grouped by class (cacheable, ETag)"""
        return staff.categories_grouped(), 200, {"Cache-Control": "public, max-age=300"}


@blp.route("/complaints/similar")
class Similar(MethodView):
    @blp.arguments(SimilarQuerySchema, location="query")
    @blp.response(200, SimilarSchema(many=True))
    def get(self, args):
        """Open cases of this category within 250 m in the last 7 days, nearest first"""
        found = cases.similar(args["category"], args["lat"], args["lng"])
        return [_with_distance(complaint, distance) for complaint, distance in found]


def _with_distance(complaint, distance):
    view = ComplaintView(complaint, None)
    view.distance_m = round(distance)
    return view


@blp.route("/complaints")
class Complaints(MethodView):
    @auth_required()
    @per_user("COMPLAINT")
    @idempotent("complaints")
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintDetailSchema)
    def post(self, args):
        """File a complaint (Idempotency-Key required)"""
        user = current_user()
        complaint = cases.create_complaint(
            user,
            args["category"],
            args["description"],
            args["lat"],
            args["lng"],
            args["address"],
            args["photo_ids"],
            anonymous=args["anonymous"],
            contact_phone=args["contact_phone"],
        )
        return ComplaintView(complaint, user)


@blp.route("/complaints/<int:complaint_id>")
class ComplaintDetail(MethodView):
    @auth_required(optional=True)
    @blp.response(200, ComplaintDetailSchema)
    def get(self, complaint_id):
        """A case: the reporter sees everything, others an anonymised public view"""
        user = current_user()
        complaint, _ = cases.get_visible(complaint_id, user)
        return ComplaintView(complaint, user)


@blp.route("/complaints/<int:complaint_id>/follow")
class Follow(MethodView):
    @auth_required()
    @per_user("FOLLOW")
    @blp.response(200, ComplaintDetailSchema)
    def post(self, complaint_id):
        """Follow a case ("+1 / 关注"): counted, and notified of its progress"""
        user = current_user()
        return ComplaintView(cases.follow(complaint_id, user), user)

    @auth_required()
    @per_user("FOLLOW")
    @blp.response(200, ComplaintDetailSchema)
    def delete(self, complaint_id):
        """Stop following a case"""
        user = current_user()
        return ComplaintView(cases.unfollow(complaint_id, user), user)


@blp.route("/complaints/<int:complaint_id>/rating")
class Rating(MethodView):
    @auth_required()
    @blp.arguments(ComplaintRatingSchema)
    @blp.response(200, ComplaintDetailSchema)
    def post(self, args, complaint_id):
        """Rate the handling of my closed case (1–5 and a comment)"""
        user = current_user()
        complaint, _ = cases.get_visible(complaint_id, user, for_update=True)
        reporter.rate(complaint, user, rating=args["rating"], comment=args["comment"])
        return ComplaintView(complaint, user)


@blp.route("/complaints/<int:complaint_id>/reopen")
class Reopen(MethodView):
    @auth_required()
    @blp.arguments(ReopenSchema)
    @blp.response(200, ComplaintDetailSchema)
    def post(self, args, complaint_id):
        """Reopen my case within 7 days of closure when it is not fixed"""
        user = current_user()
        complaint, _ = cases.get_visible(complaint_id, user, for_update=True)
        reporter.reopen(complaint, user, reason=args["reason"])
        return ComplaintView(complaint, user)


@blp.route("/me/complaints")
class MyComplaints(MethodView):
    @auth_required()
    @blp.arguments(MyComplaintsQuerySchema, location="query")
    @blp.response(200, page_of(ComplaintListItemSchema))
    def get(self, args):
        """The cases I reported (or follow, with scope=following)"""
        return cases.list_mine(current_user(), args["scope"], args["page"], args["page_size"])
