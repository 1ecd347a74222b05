"""The thread that sends queued messages (SMS, e-mail) to parties, in `tiaojie serve` and in each
`tiaojie worker`. What a message is, how it is queued and how one pass sends what is due live in
flows/messages.py; this thread only runs that pass, woken after every commit
(runtime/relay.after_commit) and otherwise every few seconds."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from flows.messages import send_due

log = logging.getLogger("tiaojie.messages")


class MessageSender:
    """Sends due messages: woken after every committed action, otherwise it looks every `interval`
    seconds (one indexed read)."""

    def __init__(self, engine: Engine, *, interval: float = 2.0) -> None:
        self.engine = engine
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="tiaojie-messages", daemon=True)

    def start(self) -> MessageSender:
        global _sender
        _sender = self
        self.thread.start()
        return self

    def stop(self) -> None:
        global _sender
        self._stop.set()
        self._wake.set()
        self.thread.join(timeout=15)
        if _sender is self:
            _sender = None

    def notify(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                send_due(self.engine)
            except Exception:  # the database unreachable for a moment: the next pass tries again
                log.exception("message pass failed")
            self._wake.wait(self.interval)
            self._wake.clear()


# The running sender, so that a commit anywhere in the process can wake it.
_sender: MessageSender | None = None


def wake() -> None:
    """After a commit that may have queued messages: send them now rather than at the next look."""
    if _sender is not None:
        _sender.notify()
