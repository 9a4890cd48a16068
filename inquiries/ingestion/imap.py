"""Reading new mail from an IMAP folder by UID, with imapclient. No Django, no database.

`ImapSession` logs in, selects the folder and hands out the messages above a UID, oldest
first and a bounded number at a time. It never deletes, moves or expunges, and fetches
with BODY.PEEK so that reading sets no flag; `mark_seen()` is the only write, and only
when the caller asks for it.

Every failure surfaces as `MailboxError` with a message an operator can act on ("login
failed for user 'x': ...", "cannot resolve IMAP host 'y'"), never the raw traceback.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SENT

from inquiries.outbound import BlockedDestination, GuardedIMAPClient

SEEN = b"\\Seen"
FETCH_CHUNK_BYTES = 8 * 1024 * 1024  # message bytes fetched per round trip

_Answer = TypeVar("_Answer")


class MailboxError(Exception):
    """The mailbox could not be read; `str(exc)` is the operator's explanation."""


@dataclass(frozen=True, slots=True)
class ImapSettings:
    host: str
    port: int
    tls_mode: str  # "ssl", "starttls" or "none"
    username: str
    password: str
    folder: str = "INBOX"
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None  # None: the system's trusted CAs, host name checked

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class FetchedMail:
    uid: int
    raw: bytes | None  # None when the message is over the size limit (not fetched)
    size: int
    internal_date: datetime | None  # the server's receipt time, aware UTC


@dataclass(frozen=True, slots=True)
class Selection:
    uidvalidity: int
    uidvalidity_changed: bool  # the stored UIDs are void: reading starts again from the beginning
    pending: list[int]  # UIDs above the starting point, ascending, at most `batch_size`
    remaining: int  # UIDs above the starting point beyond this batch


class ImapSession:
    """A logged-in connection with the folder selected; use as a context manager."""

    def __init__(self, settings: ImapSettings, *, readonly: bool = True) -> None:
        self.settings = settings
        self.readonly = readonly
        self.client: IMAPClient | None = None
        self.folder = settings.folder
        self.folder_status: dict[bytes, object] = {}

    def __enter__(self) -> ImapSession:
        self.client = _connect(self.settings)
        try:
            _login(self.client, self.settings)
            self.folder_status = _select(self.client, self.settings.folder, readonly=self.readonly)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # the connection may already be gone; closing is best effort
            with contextlib.suppress(Exception):
                client.shutdown()

    @property
    def uidvalidity(self) -> int:
        value = self.folder_status.get(b"UIDVALIDITY")
        if not isinstance(value, int):
            raise MailboxError(f"the server reported no UIDVALIDITY for folder {self.folder!r}")
        return value

    def select(self, folder: str, *, readonly: bool = True) -> None:
        """Switch to another folder of the same mailbox (the sent folder after the inbox)."""
        self.folder_status = _select(self._client(), folder, readonly=readonly)
        self.folder, self.readonly = folder, readonly

    def find_sent_folder(self) -> str | None:
        """The folder the server flags `\\Sent` (RFC 6154 special use); failing that, one with a
        usual name (Sent, Sent Items, Sent Messages); None when there is none."""
        return self._call("LIST", lambda c: c.find_special_folder(SENT))

    def select_new(self, *, uidvalidity: int | None, last_uid: int, batch_size: int) -> Selection:
        """The next batch of UIDs after `last_uid`, or from the start when UIDVALIDITY changed."""
        current = self.uidvalidity
        changed = uidvalidity is not None and uidvalidity != current
        start = 0 if changed or uidvalidity is None else last_uid
        uids = sorted(
            uid for uid in self._call("SEARCH", lambda c: c.search(["UID", f"{start + 1}:*"])) if uid > start
        )
        # "n:*" always matches the highest UID, even below n: hence the filter above.
        return Selection(current, changed, uids[:batch_size], max(0, len(uids) - batch_size))

    def fetch(self, uids: list[int], *, max_bytes: int) -> Iterator[FetchedMail]:
        """The messages with these UIDs, in order; over-size ones without their bytes.

        A UID that vanished meanwhile (expunged by another client) is skipped.
        """
        if not uids:
            return
        meta = self._call("FETCH", lambda c: c.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"]))
        chunk: list[int] = []
        chunk_bytes = 0
        for uid in uids:
            info = meta.get(uid)
            if info is None:
                continue
            size = int(info.get(b"RFC822.SIZE") or 0)
            if size > max_bytes:
                yield from self._fetch_bodies(chunk, meta)
                chunk, chunk_bytes = [], 0
                yield FetchedMail(uid, None, size, _aware(info.get(b"INTERNALDATE")))
                continue
            if chunk and chunk_bytes + size > FETCH_CHUNK_BYTES:
                yield from self._fetch_bodies(chunk, meta)
                chunk, chunk_bytes = [], 0
            chunk.append(uid)
            chunk_bytes += size
        yield from self._fetch_bodies(chunk, meta)

    def _fetch_bodies(self, uids: list[int], meta: dict) -> Iterator[FetchedMail]:
        if not uids:
            return
        bodies = self._call("FETCH", lambda c: c.fetch(uids, ["BODY.PEEK[]"]))
        for uid in uids:
            data = bodies.get(uid)
            if data is None:
                continue
            raw = data.get(b"BODY[]") or b""
            info = meta[uid]
            yield FetchedMail(
                uid, bytes(raw), int(info.get(b"RFC822.SIZE") or len(raw)), _aware(info.get(b"INTERNALDATE"))
            )

    def mark_seen(self, uids: list[int]) -> None:
        if uids:
            if self.readonly:
                raise MailboxError("cannot set flags: the folder was opened read-only")
            self._call("STORE", lambda c: c.add_flags(uids, [SEEN], silent=True))

    def wait_for_mail(self, timeout: float) -> bool:
        """IMAP IDLE until the server announces a new message or `timeout` seconds pass.

        Returns True on news. Servers drop idle clients after 30 minutes (RFC 2177), so
        callers loop with a timeout well below that.
        """
        client = self._client()
        try:
            client.idle()
            responses = client.idle_check(timeout=timeout)
            client.idle_done()
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(f"IDLE on {self.settings.where} failed: {_describe(exc)}") from None
        return any(len(item) >= 2 and item[1] in (b"EXISTS", b"RECENT") for item in responses)

    def _client(self) -> IMAPClient:
        if self.client is None:
            raise MailboxError("the IMAP session is closed")
        return self.client

    def _call(self, what: str, action: Callable[[IMAPClient], _Answer]) -> _Answer:
        """`action`'s answer; an IMAP or network failure as `MailboxError` naming `what`."""
        client = self._client()
        try:
            return action(client)
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(f"{what} on {self.settings.where} failed: {_describe(exc)}") from None


def _connect(settings: ImapSettings) -> IMAPClient:
    if not settings.host:
        raise MailboxError("no IMAP server configured")
    context = settings.ssl_context or ssl.create_default_context()
    try:
        client = GuardedIMAPClient(
            settings.host,
            port=settings.port,
            ssl=settings.tls_mode == "ssl",
            ssl_context=context if settings.tls_mode == "ssl" else None,
            timeout=settings.timeout,
        )
        client.normalise_times = False  # keep INTERNALDATE's zone instead of local naive time
        if settings.tls_mode == "starttls":
            client.starttls(ssl_context=context)
        return client
    except BlockedDestination as exc:
        raise MailboxError(f"IMAP server refused by the outbound policy: {exc}") from None
    except socket.gaierror:
        raise MailboxError(f"cannot resolve IMAP host {settings.host!r}") from None
    except ConnectionRefusedError:
        raise MailboxError(f"connection refused by {settings.where}: is the IMAP port right?") from None
    except TimeoutError:
        raise MailboxError(f"timed out connecting to {settings.where} after {settings.timeout:g} s") from None
    except ssl.SSLError as exc:
        hint = (
            "use STARTTLS for port 143, TLS for 993" if settings.port in (143, 993) else "check the TLS mode"
        )
        raise MailboxError(f"TLS failed with {settings.where}: {exc.reason or exc} ({hint})") from None
    except (IMAPClientError, OSError) as exc:
        raise MailboxError(f"cannot connect to {settings.where}: {_describe(exc)}") from None


def _login(client: IMAPClient, settings: ImapSettings) -> None:
    try:
        client.login(settings.username, settings.password)
    except LoginError as exc:
        raise MailboxError(
            f"login failed for user {settings.username!r} on {settings.where}: {_describe(exc)}"
        ) from None
    except (IMAPClientError, OSError) as exc:
        raise MailboxError(f"login to {settings.where} failed: {_describe(exc)}") from None


def _select(client: IMAPClient, folder: str, *, readonly: bool) -> dict[bytes, object]:
    try:
        return client.select_folder(folder, readonly=readonly)
    except (IMAPClientError, OSError) as exc:
        raise MailboxError(f"cannot open folder {folder!r}: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = str(text).strip() or type(exc).__name__
    return text[:300]


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:  # servers send a zone; a missing one is taken as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
