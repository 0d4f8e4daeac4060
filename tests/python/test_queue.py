"""Delivery by MX and the durable queue from Python, against the test DNS server and aiosmtpd
receivers on the 127.0.0.x addresses of tests/dns/zone.json (the cases of
core/tests/delivery_mx.rs and queue_delivery.rs): primary down → backup; 4xx → queued and
retried on a short schedule; 5xx → one DSN at the sender's server; `<>` sender → no DSN."""

from __future__ import annotations

import asyncio
import email.message
import pickle
import time

import pytest

import postwire
import postwire.aio
from mta_support import Deferring, dns, port_free_on, receiver, wait_for  # noqa: F401  (fixtures)

MSG = b"From: a@sender.test\r\nTo: x@dest.test\r\nSubject: queued\r\nMessage-ID: <q1@sender.test>\r\n\r\nhello\r\n"


def queue(tmp_path, dns, port, **kw):
    kw.setdefault("retry", [0.2])
    return postwire.Queue(tmp_path / "spool", nameservers=[dns], port=port, allow_loopback=True,
                          tls="none", timeout=10, hostname="relay.test", **kw)


def test_send_mail_routes_by_mx_primary_down_backup_used(dns, receiver):
    port = port_free_on("127.0.0.31", "127.0.0.32")
    backup = receiver("127.0.0.32", port)  # nothing listens on mx1 (127.0.0.31)
    results = postwire.send_mail("a@sender.test", ["x@backup.test"], MSG, nameservers=[dns], port=port,
                                 allow_loopback=True, tls="none", timeout=10)
    assert [(r.rcpt, r.ok) for r in results] == [("x@backup.test", True)], [r.to_dict() for r in results]
    assert [(m[0], m[1]) for m in backup.messages] == [("a@sender.test", ["x@backup.test"])]


def test_send_mail_by_mx_refuses_loopback_unless_allowed(dns, receiver):
    port = port_free_on("127.0.0.33")
    dest = receiver("127.0.0.33", port)
    results = postwire.send_mail("a@sender.test", "x@dest.test", MSG, nameservers=[dns], port=port,
                                 tls="none", timeout=10)
    assert not results[0].ok
    assert "loopback" in str(results[0].error)
    assert dest.messages == []


def test_queue_submit_list_run_delivers(tmp_path, dns, receiver):
    port = port_free_on("127.0.0.33")
    dest = receiver("127.0.0.33", port)
    q = queue(tmp_path, dns, port)
    qid = q.submit({"mail_from": "a@sender.test", "rcpt_to": ["x@dest.test"]}, MSG)
    [entry] = q.list()
    assert isinstance(entry, postwire.QueueEntry)
    assert (entry.id, entry.mail_from, entry.attempts, entry.size) == (qid, "a@sender.test", 0, len(MSG))
    assert [(r.rcpt, r.status, r.attempts) for r in entry.recipients] == [("x@dest.test", "pending", 0)]
    assert pickle.loads(pickle.dumps(entry)) == entry
    assert entry.to_dict()["recipients"][0]["status"] == "pending"
    stats = q.run()
    assert (stats.entries, stats.delivered, stats.deferred, stats.failed) == (1, 1, 0, 0)
    assert q.list() == []
    assert [(m[0], m[1]) for m in dest.messages] == [("a@sender.test", ["x@dest.test"])]
    assert dest.messages[0][2].endswith(b"hello\r\n")


def test_the_queue_uses_the_backup_mx_when_the_primary_is_down(tmp_path, dns, receiver):
    port = port_free_on("127.0.0.31", "127.0.0.32")
    backup = receiver("127.0.0.32", port)  # nothing listens on mx1 (127.0.0.31)
    q = queue(tmp_path, dns, port)
    q.submit(mail_from="a@sender.test", rcpt_to=["x@backup.test", "y@backup.test"], message=MSG)
    stats = q.run()
    assert (stats.delivered, stats.deferred) == (2, 0), stats
    assert [(m[0], sorted(m[1])) for m in backup.messages] == [("a@sender.test", ["x@backup.test", "y@backup.test"])]


def test_4xx_is_queued_and_retried_on_a_short_schedule(tmp_path, dns, receiver):
    port = port_free_on("127.0.0.33")
    dest = receiver("127.0.0.33", port, handler=Deferring(defer_first=1))
    q = queue(tmp_path, dns, port)
    q.submit(mail_from="a@sender.test", rcpt_to="x@dest.test", message=MSG)
    stats = q.run()
    assert (stats.delivered, stats.deferred) == (0, 1)
    [entry] = q.list()
    r = entry.recipients[0]
    assert (r.status, r.attempts) == ("pending", 1)
    assert r.last_reply is not None and r.last_reply.code == 451
    assert entry.next_try_ms > entry.created_ms
    # Due again after the 0.2 s of the schedule: the next run delivers.
    wait_for(lambda: time.time() * 1000 >= entry.next_try_ms, "the retry time")
    stats = q.run()
    assert stats.delivered == 1, stats
    assert q.list() == []
    assert len(dest.messages) == 1


def test_5xx_sends_one_dsn_to_the_senders_server(tmp_path, dns, receiver):
    port = port_free_on("127.0.0.33", "127.0.0.35")
    receiver("127.0.0.33", port, refuse=["bad@dest.test"])
    sender = receiver("127.0.0.35", port)
    q = queue(tmp_path, dns, port)
    q.submit({"mail_from": "a@sender.test", "rcpt_to": ["bad@dest.test"]}, MSG)
    stats = q.run()
    assert (stats.failed, stats.notices) == (1, 1), stats
    # The notice is an entry of the queue itself, from <> to the sender.
    [notice] = q.list()
    assert notice.mail_from == "" and [r.rcpt for r in notice.recipients] == ["a@sender.test"]
    q.run()
    assert q.list() == []
    q.flush()
    [(mail_from, rcpts, body)] = sender.messages
    assert (mail_from, rcpts) == ("<>", ["a@sender.test"]), "from the null sender"
    assert b"multipart/report" in body and b"delivery-status" in body
    assert b"bad@dest.test" in body


def test_null_sender_gets_no_dsn(tmp_path, dns, receiver):
    port = port_free_on("127.0.0.33", "127.0.0.35")
    receiver("127.0.0.33", port, refuse=["bad@dest.test"])
    sender = receiver("127.0.0.35", port)
    q = queue(tmp_path, dns, port)
    q.submit(mail_from="", rcpt_to=["bad@dest.test"], message=MSG)
    stats = q.run()
    assert (stats.failed, stats.notices) == (1, 0), stats
    assert q.list() == []
    q.flush()
    assert sender.messages == []


def test_a_reopened_queue_picks_up_its_entries_and_the_runner_delivers(tmp_path, dns, receiver):
    port = port_free_on("127.0.0.33")
    q = queue(tmp_path, dns, port)
    qid = q.submit(mail_from="a@sender.test", rcpt_to=["x@dest.test"], message=MSG)
    del q
    dest = receiver("127.0.0.33", port)
    with queue(tmp_path, dns, port) as q2:
        assert [e.id for e in q2.list()] == [qid]
        q2.start()
        wait_for(lambda: dest.messages, "the background runner's delivery")
        wait_for(lambda: q2.list() == [], "the entry to go")
    assert "spool" in repr(q2)


def test_an_email_message_object_can_be_queued(tmp_path, dns):
    m = email.message.EmailMessage()
    m["Subject"] = "object"
    m["Bcc"] = "hidden@dest.test"
    m.set_content("body")
    q = queue(tmp_path, dns, 25)
    q.submit(mail_from="a@sender.test", rcpt_to=["x@dest.test", "hidden@dest.test"], message=m)
    [entry] = q.list()
    # Queued as send_message would send it: CRLF line ends, and Bcc only in the envelope.
    assert entry.size == len(m.as_bytes().replace(b"\n", b"\r\n")) - len(b"Bcc: hidden@dest.test\r\n")
    stored = b"".join(p.read_bytes() for p in (tmp_path / "spool" / "seg").iterdir())
    assert b"Subject: object\r\n" in stored and b"Bcc:" not in stored


def test_bad_envelopes_and_options_are_invalid_input(tmp_path, dns):
    q = queue(tmp_path, dns, 25)
    with pytest.raises(postwire.InvalidInputError):
        q.submit(mail_from="a@sender.test", rcpt_to=[], message=MSG)
    with pytest.raises(postwire.InvalidInputError):
        q.submit(mail_from="not an address", rcpt_to=["x@dest.test"], message=MSG)
    with pytest.raises(postwire.InvalidInputError, match="message"):
        q.submit(mail_from="a@sender.test", rcpt_to=["x@dest.test"])
    with pytest.raises(postwire.InvalidInputError, match="smarthots"):
        postwire.Queue(tmp_path / "other", smarthots="x")
    with pytest.raises(postwire.InvalidInputError, match="retry"):
        postwire.Queue(tmp_path / "other", retry=[])
    assert q.list() == []


def test_aio_queue(tmp_path, dns, receiver):
    port = port_free_on("127.0.0.33")
    dest = receiver("127.0.0.33", port)

    async def main():
        async with postwire.aio.Queue(tmp_path / "spool", nameservers=[dns], port=port, allow_loopback=True,
                                      tls="none", timeout=10) as q:
            qid = await q.submit({"mail_from": "a@sender.test", "rcpt_to": [{"address": "x@dest.test",
                                                                             "notify": "NEVER"}]}, MSG)
            [entry] = await q.list()
            assert entry.id == qid and entry.recipients[0].notify == "NEVER"
            stats = await q.run()
            assert stats.delivered == 1
            assert await q.list() == []

    asyncio.run(main())
    assert len(dest.messages) == 1


def drain(q, until, what: str):
    """Run the queue until `until()` holds (bounded): retries and notices go out on the way."""
    return wait_for(lambda: (q.run(), until())[1], what)


def test_a_message_deferred_past_its_maximum_age_expires_with_one_dsn(tmp_path, dns, receiver):
    port = port_free_on("127.0.0.33", "127.0.0.35")
    receiver("127.0.0.33", port, handler=Deferring(defer_first=10**6))
    sender = receiver("127.0.0.35", port)
    q = queue(tmp_path, dns, port, retry=[0.05], max_age=0.3)
    q.submit(mail_from="s@sender.test", rcpt_to=["later@dest.test"], message=MSG)
    drain(q, lambda: sender.messages, "the expiry notice")
    drain(q, lambda: q.list() == [], "an empty queue")
    [(mail_from, rcpts, body)] = sender.messages
    text = body.decode()
    assert (mail_from, rcpts) == ("<>", ["s@sender.test"])
    assert "Action: failed" in text and "Final-Recipient: rfc822; later@dest.test" in text, text
    assert "too long in the queue" in text, text


def test_notify_success_and_envid_give_a_relayed_notice_from_a_server_without_dsn(tmp_path, dns, receiver):
    port = port_free_on("127.0.0.33", "127.0.0.35")
    dest = receiver("127.0.0.33", port)  # aiosmtpd offers no DSN: the notice is ours to send
    sender = receiver("127.0.0.35", port)
    q = queue(tmp_path, dns, port)
    q.submit({"mail_from": "s@sender.test", "envid": "ENV-OK",
              "rcpt_to": [{"address": "a@dest.test", "notify": "SUCCESS,FAILURE"}]}, MSG)
    stats = q.run()
    assert (stats.delivered, stats.notices) == (1, 1), stats
    drain(q, lambda: q.list() == [], "the notice to go out")
    assert len(dest.messages) == 1
    [(mail_from, rcpts, body)] = sender.messages
    text = body.decode()
    assert (mail_from, rcpts) == ("<>", ["s@sender.test"])
    assert "Action: relayed" in text and "Final-Recipient: rfc822; a@dest.test" in text, text
    assert "Original-Envelope-Id: ENV-OK" in text, text


def test_relay_mode_server_queues_then_relays_by_mx(tmp_path, dns, receiver):
    """Server(delivery="queue:DIR"): 250 once the message is in the queue, then the queue's runner
    relays it by MX (the test zone's dest.test → 127.0.0.33) with the DSN parameters carried."""
    import smtplib

    port = port_free_on("127.0.0.33")
    dest = receiver("127.0.0.33", port)
    server = postwire.Server(hostname="relay.test", relay_networks=["127.0.0.0/8"],
                             delivery=f"queue:{tmp_path / 'spool'}", nameservers=[dns], queue_port=port,
                             allow_loopback=True, queue_retry=[0.2], queue_max_age=60)
    host, sport = server.listen("127.0.0.1", 0)
    server.start()
    try:
        with smtplib.SMTP(host, sport, timeout=10) as s:
            s.ehlo("client.test")
            assert s.has_extn("dsn"), "a server with a queue offers DSN"
            refused = s.sendmail("a@sender.test", ["x@dest.test"], MSG,
                                 mail_options=["ENVID=relay-1"], rcpt_options=["NOTIFY=FAILURE"])
            assert refused == {}
        wait_for(lambda: len(dest.messages) == 1, "the relayed message")
    finally:
        server.stop()
    mail_from, rcpts, data = dest.messages[0]
    assert (mail_from, rcpts) == ("a@sender.test", ["x@dest.test"])
    assert data.startswith(b"Received: from client.test")
    assert data.endswith(b"hello\r\n")
    with pytest.raises(postwire.InvalidInputError, match="queue_smarthost"):
        postwire.Server(queue_smarthost="127.0.0.1:25")
