"""Human names of the report tables, their columns and the codes shown in them.

The JSON API keeps its field names and codes (a machine contract); the dashboard and the CSV and
XLSX exports show these names in the reader's language (``language.py``). The English texts here
are the msgids of ``services/reporting/locale/*/LC_MESSAGES/messages.po``, marked with ``N_`` so
that ``pybabel extract`` finds them. A table's name is also an XLSX sheet name: at most 31
characters in every language.
"""

from __future__ import annotations

from services.reporting.entrypoints.language import N_
from shared.kernel.i18n import Language

TABLES: dict[str, str] = {
    "facilitators_by_region": N_("Facilitators by region"),
    "facilitators_by_province": N_("Facilitators by province"),
    "facilitators_by_area": N_("Facilitators by area"),
    "completion_by_province": N_("Completion by province"),
    "completion_by_area": N_("Completion by area"),
    "totals_by_month": N_("Totals by month"),
    "totals_by_year": N_("Totals by year"),
    "completeness_by_region": N_("Reporting by region"),
    "freshness": N_("Freshness"),
    "trainings": N_("Trainings"),
    "unreported_sessions": N_("Sessions not reported"),
    "ojt_kelurahan": N_("OJT by kelurahan"),
    "ojt_coverage": N_("OJT coverage"),
    "attendance_by_session": N_("Attendance by session"),
    "attendance_by_day": N_("Attendance by day"),
    "not_completed_reasons": N_("Reasons not completed"),
    "by_area": N_("By area and role"),
    "assignments": N_("Assignments"),
    "waiting_verification": N_("Waiting for verification"),
    "verification": N_("Verification"),
    "about": N_("About"),
}

COLUMNS: dict[str, str] = {
    "absent": N_("Absent"),
    "active": N_("Active"),
    "attendance_rate": N_("Attendance rate"),
    "attended": N_("Attended"),
    "by": N_("By"),
    "certificate_code": N_("Certificate code"),
    "certified": N_("Certified"),
    "close_status": N_("Close status"),
    "code": N_("Code"),
    "completed": N_("Completed"),
    "completed_training": N_("Completed the training"),
    "completion_rate": N_("Completion rate"),
    "days_waiting": N_("Days waiting"),
    "effective_from": N_("Effective from"),
    "end_date": N_("End date"),
    "enrolled": N_("Enrolled"),
    "enrollment_status": N_("Enrollment status"),
    "events_applied": N_("Events applied"),
    "excused": N_("Excused"),
    "gain_mean": N_("Mean gain (points)"),
    "inactive": N_("Inactive"),
    "kabkota_code": N_("Kota/kabupaten code"),
    "kabkota_name": N_("Kota/kabupaten"),
    "coverage_rate": N_("Coverage"),
    "kelurahan": N_("Kelurahan"),
    "kelurahan_code": N_("Kelurahan code"),
    "kelurahan_name": N_("Kelurahan"),
    "kind": N_("Kind"),
    "lag": N_("Lag (records)"),
    "last_applied_at": N_("Last applied at"),
    "late": N_("Late"),
    "module_code": N_("Module code"),
    "name": N_("Name"),
    "newest_event_at": N_("Newest event at"),
    "never": N_("Never had OJT"),
    "not_completed": N_("Not completed"),
    "ojt_assigned": N_("OJT assigned"),
    "ojt_completed": N_("OJT completed"),
    "ojt_kelurahan": N_("OJT kelurahan"),
    "ojt_participants": N_("OJT participants"),
    "outcome": N_("Outcome"),
    "participants": N_("Participants"),
    "period": N_("Period"),
    "post_mean": N_("Post-test mean (%)"),
    "post_pct": N_("Post-test (%)"),
    "pre_mean": N_("Pre-test mean (%)"),
    "pre_pct": N_("Pre-test (%)"),
    "present": N_("Present"),
    "province_code": N_("Province code"),
    "province_name": N_("Province"),
    "reason": N_("Reason"),
    "recorded": N_("Recorded"),
    "region": N_("Region"),
    "reviews_open": N_("Open reviews"),
    "role": N_("Role"),
    "session_date": N_("Session date"),
    "session_id": N_("Session"),
    "sessions": N_("Sessions"),
    "sessions_attended": N_("Sessions attended"),
    "sessions_due": N_("Sessions due"),
    "sessions_recorded": N_("Sessions recorded"),
    "sessions_unreported": N_("Sessions not reported"),
    "sheets_accepted": N_("Sheets accepted"),
    "sheets_verified": N_("Sheets verified"),
    "since": N_("Since"),
    "speciality": N_("Speciality"),
    "start_date": N_("Start date"),
    "status": N_("Status"),
    "submission_id": N_("Submission"),
    "title": N_("Title"),
    "total": N_("Total"),
    "training_id": N_("Training"),
    "trainings": N_("Trainings"),
    "trainings_unreported": N_("Trainings not reported"),
    "training_type": N_("Training type"),
    "unmet": N_("Requirements not met"),
    "waiting_for": N_("Waiting for"),
    "with_ojt": N_("With OJT"),
    "withdrawn": N_("Withdrawn"),
}

_TRAINING_TYPES = {
    "basic": N_("basic"),
    "refresher": N_("refresher"),
    "tot": N_("training of trainers"),
    "thematic": N_("thematic"),
}
_SUBMISSION_STATUSES = {
    "submitted": N_("submitted"),
    "verified": N_("verified"),
    "accepted": N_("accepted"),
    "returned": N_("returned"),
}
_REASONS = {
    "attendance_below_minimum": N_("attendance below the minimum"),
    "post_test_missing": N_("post-test missing"),
    "ojt_not_completed": N_("OJT not completed"),
    "withdrawn": N_("withdrawn"),
    "facilitator_deactivated": N_("facilitator deactivated"),
}

# Codes shown in a column, by column: their names for people (anything else is shown as it is).
VALUES: dict[str, dict[str, str]] = {
    "role": {
        "korkot": N_("Korkot"),
        "askot": N_("Assistant Korkot"),
        "senior_fasilitator": N_("Senior facilitator"),
        "fasilitator": N_("Facilitator"),
    },
    "training_type": _TRAINING_TYPES,
    "status": {
        "scheduled": N_("scheduled"),
        "closed": N_("closed"),
        "cancelled": N_("cancelled"),
        "unknown": N_("not known yet"),
        **_SUBMISSION_STATUSES,
    },
    "close_status": _SUBMISSION_STATUSES,
    "kind": {
        "classroom": N_("classroom"),
        "ojt": N_("OJT"),
        "registered": N_("registered"),
        "reassigned": N_("reassigned"),
    },
    "reason": _REASONS,
    "enrollment_status": {"enrolled": N_("enrolled"), "withdrawn": N_("withdrawn")},
    "outcome": {"completed": N_("completed"), "not_completed": N_("not completed")},
}


def table_name(lang: Language, table: str) -> str:
    return lang.gettext(TABLES[table]) if table in TABLES else table


def column(lang: Language, name: str) -> str:
    return lang.gettext(COLUMNS[name]) if name in COLUMNS else name.replace("_", " ")


def value(lang: Language, column_name: str, code: object) -> object:
    """``code`` as shown in ``column_name``: its name in ``lang`` where it is a known code."""
    names = VALUES.get(column_name, {})
    return lang.gettext(names[code]) if isinstance(code, str) and code in names else code
