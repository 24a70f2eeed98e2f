"""The scheduler's delivery job: mail and webhook messages still pending (a failed attempt, a pass
cut short) are sent; what another deliverer holds is left to it (tracker/notifications/delivery.py)."""

from __future__ import annotations

import logging

from tracker.tasks.jobs import scheduled

log = logging.getLogger(__name__)


def deliver() -> None:
    from tracker.notifications.delivery import deliver_pending

    report = deliver_pending()
    if (
        report.mails_sent
        or report.webhook_posts
        or report.mail_failures
        or report.webhook_failures
        or report.hook_posts
        or report.hook_failures
    ):
        log.info(
            "delivery: %d digests (%d items), %d failed; webhook %d posts (%d items), %d failed; "
            "API webhooks %d posts (%d events), %d failed",
            report.mails_sent,
            report.mail_items,
            report.mail_failures,
            report.webhook_posts,
            report.webhook_items,
            report.webhook_failures,
            report.hook_posts,
            report.hook_items,
            report.hook_failures,
        )


def run() -> None:
    """Referenced as "tracker.tasks.delivery:run"."""
    scheduled("delivery", deliver)
