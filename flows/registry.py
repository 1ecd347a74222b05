"""Every flow by the name the outbox (`ProcessRun.flow`) uses; `tiaojie serve` deploys the same set."""

from __future__ import annotations

from typing import Any

from prefect import Flow, flow

from flows.agreement import agreement_flow, follow_up_flow, signed_flow
from flows.audit_anchor import audit_anchor_flow
from flows.closing import closing_flow
from flows.enforcement import judicial_confirmation_flow, payment_orders_flow
from flows.escalation import escalation_sweep_flow, supervision_flow
from flows.intake import decision_flow, intake_flow
from flows.jobs import export_job_flow
from flows.notices import delivery_receipt_flow
from flows.panel_selection import panel_flow
from flows.portal import remote_signed_flow
from flows.scheduled import backlog_report_flow, follow_up_reminder_flow
from flows.sessions import session_flow, session_notice_flow

# Typed as Flow: the flows differ in parameters and sync/async, which the checker would join to object.
FLOWS: dict[str, Flow[..., Any]] = {
    "intake": intake_flow,
    "decision": decision_flow,
    "panel": panel_flow,
    "session_notice": session_notice_flow,
    "session": session_flow,
    "agreement": agreement_flow,
    "signed": signed_flow,
    "follow_up": follow_up_flow,
    "closing": closing_flow,
    "supervision": supervision_flow,
    "export-job": export_job_flow,
    "delivery_receipt": delivery_receipt_flow,
    "judicial_confirmation": judicial_confirmation_flow,
    "payment_orders": payment_orders_flow,
    "remote_signed": remote_signed_flow,
}

SCHEDULED: dict[str, tuple[Flow[..., Any], str]] = {
    "escalation-sweep": (escalation_sweep_flow, "0 * * * *"),  # hourly
    "follow-up-reminders": (follow_up_reminder_flow, "0 8 * * *"),  # daily, 08:00
    "backlog-report": (backlog_report_flow, "0 7 * * 1"),  # weekly, Monday 07:00
    "audit-anchor": (audit_anchor_flow, "30 2 * * *"),  # daily, 02:30: the audit chain kept outside
}


@flow(name="tiaojie-warm-up")
async def warm_up() -> bool:
    """A no-op run before real work: Prefect's engine, client and event loop warmed up in this worker."""
    return True
