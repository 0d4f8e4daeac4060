"""``send_message``'s envelope, worked out of an ``email.message.Message`` as
``smtplib.SMTP.send_message`` does (called by the extension): the stdlib object's API stays in
Python."""

from __future__ import annotations

import copy
import email.utils
import io
from email.generator import BytesGenerator
from email.message import Message
from typing import List, Optional, Sequence, Tuple, Union


def prepare(
    msg: Message,
    from_addr: Optional[str] = None,
    to_addrs: Union[str, Sequence[str], None] = None,
) -> Tuple[str, List[str], bytes]:
    """(sender, recipients, bytes to send). With a ``Resent-Date`` header the ``Resent-*``
    block gives the envelope (more than one block is a ``ValueError``, as in smtplib);
    otherwise ``Sender`` (else ``From``) and ``To``, ``Cc``, ``Bcc``. ``Bcc`` and
    ``Resent-Bcc`` are not sent."""
    if not isinstance(msg, Message):
        raise TypeError("send_message takes an email.message.Message (or EmailMessage)")
    resent = msg.get_all("Resent-Date")
    if resent is None:
        prefix = ""
    elif len(resent) == 1:
        prefix = "Resent-"
    else:
        raise ValueError("message has more than one 'Resent-' header block")
    if from_addr is None:
        header = msg[prefix + "Sender"] if (prefix + "Sender") in msg else msg[prefix + "From"]
        if header is None:
            raise ValueError(f"message has no {prefix}Sender or {prefix}From header: give from_addr")
        from_addr = email.utils.getaddresses([str(header)])[0][1]
    if to_addrs is None:
        fields = [str(f) for f in (msg[prefix + "To"], msg[prefix + "Bcc"], msg[prefix + "Cc"]) if f is not None]
        to_addrs = [a[1] for a in email.utils.getaddresses(fields) if a[1]]
    elif isinstance(to_addrs, str):
        to_addrs = [to_addrs]
    return from_addr, list(to_addrs), to_bytes(msg)


def to_bytes(msg: Message) -> bytes:
    """The bytes that go on the wire (or into the queue) for ``msg``: CRLF line ends, and
    without ``Bcc`` / ``Resent-Bcc``, which only the envelope may carry."""
    sent = copy.copy(msg)
    del sent["Bcc"]
    del sent["Resent-Bcc"]
    out = io.BytesIO()
    BytesGenerator(out, policy=msg.policy.clone(linesep="\r\n")).flatten(sent)
    return out.getvalue()
