"""Delivery under faults, on PostgreSQL with real processes: parallel deliverers, a receiver that
reads and then hangs, a database cut during delivery. Each test counts what arrived."""

from __future__ import annotations

import pytest

from conftest import requires_postgresql
from delivery_rig import (
    SMTPServer,
    WebhookServer,
    cut_connections,
    wait_for,
    with_application_name,
    expected_deliveries,
    finish,
    job_env,
    seed_database,
    start_escalations,
    states,
    webhook_tasks,
)


@pytest.fixture
def seeded_url(scratch_database_url):
    requires_postgresql(scratch_database_url, "parallel deliverers in several processes: PostgreSQL")
    seed_database(scratch_database_url)
    return scratch_database_url


@pytest.mark.parametrize("processes", [2, 4, 8])
def test_parallel_escalate_processes_deliver_each_mail_and_webhook_item_exactly_once(seeded_url, tmp_path, processes):
    with SMTPServer(delay=0.02) as smtp, WebhookServer(delay=0.05) as hook:
        results = finish(start_escalations(processes, job_env(seeded_url, tmp_path, smtp, hook)))
    assert [code for code, _out, _err in results] == [0] * processes, [err for *_x, err in results]
    assert not any("Traceback" in err for *_x, err in results)
    expected_mail, expected_items = expected_deliveries(seeded_url)
    assert len(expected_items) > 60 and len(expected_mail) > 60  # a real amount of work to race for

    assert hook.tasks() == webhook_tasks(seeded_url)  # each item's line posted once
    arrived_items = hook.items()
    assert set(arrived_items) == set(expected_items)
    assert max(arrived_items.values()) == 1  # no webhook item posted twice
    assert len({post.key for post in hook.posts}) == len(hook.posts)

    arrived_mail = smtp.mailbox.items()
    assert set(arrived_mail) == set(expected_mail)
    assert max(arrived_mail.values()) == 1  # nobody told of a task twice
    assert max(smtp.mailbox.keys().values()) == 1  # no digest sent twice
    assert_all_sent(seeded_url, expected_mail, expected_items, len(hook.posts) + len(smtp.mailbox.messages))


def assert_all_sent(url, expected_mail, expected_items, messages) -> None:
    now = states(url)
    assert now["notifications"] == {"sent": sum(expected_mail.values())}
    assert {k: v for k, v in now["escalations"].items() if k != "none"} == {"sent": len(expected_items)}
    assert now["messages"] == {"sent": messages}


def test_a_post_and_a_mail_that_timed_out_after_the_receiver_read_them_are_retried_under_the_same_key(
    seeded_url, tmp_path
):
    """The receivers read the first webhook post and the first digest, then hang past the sender's
    timeout: the sender counts them failed and the next run sends them again with the same
    Idempotency-Key / Message-ID, so receivers that drop repeats keep each item exactly once."""
    with SMTPServer(hang_first=1, hang_seconds=4) as smtp, WebhookServer(hang_first=1, hang_seconds=4) as hook:
        env = job_env(seeded_url, tmp_path, smtp, hook, SMTP_TIMEOUT=1)
        first = finish(start_escalations(1, env))
        assert first[0][0] == 0 and "1 failed" in first[0][1]
        assert states(seeded_url)["messages"].get("pending", 0) >= 2  # the hung mail and post, and the posts after it
        second = finish(start_escalations(1, env))
        assert second[0][0] == 0 and "0 failed" in second[0][1]
    expected_mail, expected_items = expected_deliveries(seeded_url)

    assert (
        hook.posts[0].key == hook.posts[1].key and hook.posts[0].item_keys == hook.posts[1].item_keys
    )  # retried as it was
    assert hook.items()[hook.posts[0].item_keys[0]] == 2  # at least once on the wire...
    assert hook.items_deduplicated() == expected_items  # ...exactly once for a receiver that drops repeats
    assert len(hook.posts) == len({post.key for post in hook.posts}) + 1

    hung_key = smtp.mailbox.messages[0][0]
    assert smtp.mailbox.keys()[hung_key] == 2 and max(smtp.mailbox.keys().values()) == 2
    assert sorted(smtp.mailbox.keys().values())[-2] == 1  # only the hung one twice
    assert smtp.mailbox.items_deduplicated() == expected_mail
    assert_all_sent(
        seeded_url, expected_mail, expected_items, len(smtp.mailbox.keys()) + len({p.key for p in hook.posts})
    )


def test_a_database_cut_during_delivery_ends_the_run_in_one_line_and_the_next_run_completes_it(seeded_url, tmp_path):
    """The deliverer's connections are ended while it sends mail (first run) and webhook posts
    (second run): each run exits 1 with one line on stderr and no traceback; the third completes;
    every item arrives once (a message cut between sending and marking is sent again under its key)."""
    name = "issue20-cut"
    with SMTPServer(delay=0.15) as smtp, WebhookServer(delay=0.4) as hook:
        env = job_env(with_application_name(seeded_url, name), tmp_path, smtp, hook)
        cut_runs = []
        for arrived in (lambda: len(smtp.mailbox.messages) >= 5, lambda: len(hook.posts) >= 2):
            [process] = start_escalations(1, env)
            assert wait_for(arrived), "delivery never got going"
            assert cut_connections(seeded_url, name) >= 1
            cut_runs += finish([process])
        last = finish(start_escalations(1, env))
    for code, _out, err in cut_runs:
        assert code == 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "stopped on a database error" in lines[0], err
        assert "Traceback" not in err
    assert last[0][0] == 0 and not last[0][2].strip()
    expected_mail, expected_items = expected_deliveries(seeded_url)

    assert smtp.mailbox.items_deduplicated() == expected_mail
    assert sum(smtp.mailbox.keys().values()) - len(smtp.mailbox.keys()) <= 1  # at most the digest in flight at the cut
    assert hook.items_deduplicated() == expected_items
    assert len(hook.posts) - len({p.key for p in hook.posts}) <= 1
    assert_all_sent(
        seeded_url, expected_mail, expected_items, len(smtp.mailbox.keys()) + len({p.key for p in hook.posts})
    )
