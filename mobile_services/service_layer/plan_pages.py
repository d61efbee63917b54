"""Every version of a week has its page, however it was made.

A coordinator's ``plan`` printed its page; a draft planned by the weekly job or a version
published after a breakdown had none. Writing it on ``PlanDrafted`` and ``PlanPublished``
gives each one a page (map, timeline, left-out communes), with its status of the moment.
"""

from __future__ import annotations

import logging

from config import Settings
from mobile_services.domain import events
from mobile_services.reports.plan_view import write_plan_page
from mobile_services.service_layer.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)


def write_page(event: events.PlanDrafted | events.PlanPublished, *, uow: UnitOfWork, settings: Settings) -> None:
    with uow:
        path = write_plan_page(uow.session, event.plan_id, settings.data_dir, settings.tz)
    logger.info("plan %s page written to %s", event.plan_id, path)
