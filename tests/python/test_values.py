"""The binding's own value conversions (not the Rust parser re-run through `describe`): Reply,
SendResult, errors with their kind/reply/rejected, Envelope, Session, params dicts, stats."""

from __future__ import annotations

import pickle
import smtplib

import pytest

import postwire
from conftest import message


def test_reply_construction_and_enhanced_code_in_text():
    r = postwire.Reply(550, "5.7.1 Relaying denied")
    assert (r.code, r.enhanced, r.text, r.lines) == (550, "5.7.1", "Relaying denied", ["Relaying denied"])
    assert r.is_permanent and not r.is_transient and not r.is_positive
    assert postwire.Reply(250).text == "" and postwire.Reply(250).enhanced is None
    multi = postwire.Reply(250, "first\nsecond", enhanced="2.0.0")
    assert multi.lines == ["first", "second"] and multi.text == "first\nsecond"
    assert multi.to_dict() == {"code": 250, "enhanced": "2.0.0", "lines": ["first", "second"], "text": "first\nsecond"}
    assert repr(r) == "Reply(code=550, enhanced='5.7.1', text='Relaying denied')"
    assert str(r) == "550 5.7.1 Relaying denied"
    assert r == postwire.Reply(550, "Relaying denied", enhanced="5.7.1") and r != postwire.Reply(551, "5.7.1 Relaying denied")
    for bad in (99, 600):
        with pytest.raises(postwire.InvalidInputError):
            postwire.Reply(bad, "x")


def test_errors_keep_kind_reply_and_rejected_through_pickle():
    reply = postwire.Reply(451, "4.3.0 later")
    e = postwire.errors._from_core("transient", "server answered 451", reply)
    assert type(e) is postwire.TransientError and e.kind == "transient" and e.reply == reply and e.rejected == []
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is postwire.TransientError and back.reply == reply and str(back) == "server answered 451"
    for kind, cls in [("timeout", TimeoutError), ("invalid_input", ValueError), ("dns", postwire.DnsError),
                      ("connect", postwire.ConnectError), ("io", postwire.IoError)]:
        assert isinstance(postwire.errors._from_core(kind, "m"), cls), kind
    assert type(postwire.errors._from_core("unknown-kind", "m")) is postwire.Error
    rej = postwire.RejectedRecipient("x@example.test", postwire.Reply(550, "5.1.1 No such user"))
    e = postwire.errors._from_core("rejected", "every recipient refused", rej.reply, [rej])
    back = pickle.loads(pickle.dumps(e))
    assert [(r.rcpt, r.reply) for r in back.rejected] == [("x@example.test", rej.reply)]


def test_hook_values_session_envelope_and_params(serve):
    seen = {}

    def on_mail_from(session, address, params):
        seen["mail"] = (session, address, params)

    def on_rcpt_to(session, address, params):
        seen["rcpt"] = (address, params)

    def on_message(session, envelope, data):
        seen["message"] = (session, envelope, data)

    server, port = serve(on_mail_from=on_mail_from, on_rcpt_to=on_rcpt_to, on_message=on_message)
    msg = message()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("client.example")
        s.sendmail("a@example.org", ["b@example.test"], msg,
                   mail_options=["BODY=8BITMIME", "ENVID=abc+2Bd", "RET=HDRS"],
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;b@example.test"])
    session, address, params = seen["mail"]
    assert address == "a@example.org"
    assert params == {"SIZE": str(len(msg)), "BODY": "8BITMIME", "RET": "HDRS", "ENVID": "abc+d"}
    assert seen["rcpt"] == ("b@example.test", {"NOTIFY": "SUCCESS,FAILURE", "ORCPT": "rfc822;b@example.test"})
    assert session.helo == "client.example" and session.peer_ip == "127.0.0.1"
    assert session.peer == ("127.0.0.1", session.peer_port) and session.local == ("127.0.0.1", port)
    assert session.to_dict() == {"id": session.id, "peer": session.peer, "local": ("127.0.0.1", port),
                                 "helo": "client.example", "tls": False, "authenticated_user": None}
    assert repr(session).startswith(f"Session(id='{session.id}', peer=('127.0.0.1', ")
    _, env, data = seen["message"]
    assert env.to_dict() == {"mail_from": "a@example.org", "rcpt_to": ["b@example.test"],
                             "mail_params": params, "rcpt_params": [seen["rcpt"][1]]}
    assert repr(env) == "Envelope(mail_from='a@example.org', rcpt_to=['b@example.test'])"
    assert data.endswith(msg)
    assert server.stats == {"connections": 1, "active_connections": 0, "refused_connections": 0,
                            "messages_accepted": 1, "messages_rejected": 0, "recipients_accepted": 1,
                            "recipients_rejected": 0, "bytes_received": len(msg)} or server.stats["active_connections"] == 1


def test_send_result_and_rejected_recipient_values(serve):
    server, port = serve(on_rcpt_to=lambda s, a, p: (550, "5.1.1 No such user") if a.startswith("no@") else None)
    with postwire.Client.connect("127.0.0.1", port, tls="none") as c:
        r = c.send("a@example.org", ["b@example.test", "no@example.test"], message())
    assert r.accepted == ["b@example.test"]
    (rej,) = r.rejected
    assert (rej.rcpt, rej.reply.code, rej.reply.enhanced, rej.reply.text) == ("no@example.test", 550, "5.1.1", "No such user")
    assert rej.to_dict() == {"rcpt": "no@example.test", "reply": rej.reply.to_dict()}
    d = r.to_dict()
    assert d["accepted"] == ["b@example.test"] and d["rejected"] == [rej.to_dict()]
    assert d["reply"] == r.reply.to_dict() and d["queue_id"] == r.queue_id and d["timings"] == r.timings
    assert repr(r).startswith("SendResult(accepted=['b@example.test'], rejected=[RejectedRecipient(rcpt='no@example.test'")
