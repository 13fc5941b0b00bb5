"""The audit log: who logged in (and who failed to), viewed, uploaded, exported or deleted what.

Rows form a hash chain: each row's ``row_hash`` is an HMAC-SHA256 of the previous row's
hash and this row's fields, so editing, inserting or deleting a row anywhere breaks every
hash after it; the ``audit_head`` row holds the last id and hash, so cutting rows off the
end is detected too. The HMAC key lives in the data folder, not in the database, so
someone who can write to the database cannot recompute the chain after an edit.
Appending locks the head row, which orders concurrent appends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outcomes.service.db import AuditEntry, AuditHead, utc_now

GENESIS_HASH = hashlib.sha256(b"outcomes audit log").hexdigest()
HASHED_FIELDS = ("id", "at", "clinic_id", "user_id", "username", "action", "object_type", "object_id",
                 "patient_id", "detail", "ip")


def row_hash(key: bytes, prev_hash: str, fields: dict) -> str:
    """HMAC-SHA256 over the previous hash and the row's fields as canonical JSON."""
    canonical = json.dumps([fields[name] for name in HASHED_FIELDS], separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, f"{prev_hash}\n{canonical}".encode(), hashlib.sha256).hexdigest()


def _key(session: Session) -> bytes:
    key = session.info.get("audit_key")
    if not key:
        raise RuntimeError("this database Session carries no audit key: make it with "
                           "make_sessionmaker(engine, settings.audit_key())")
    return key


def record(session: Session, action: str, *, username: str, user_id: int | None = None,
           clinic_id: int | None = None, object_type: str | None = None, object_id: int | None = None,
           patient_id: int | None = None, detail: dict | None = None, ip: str = "") -> AuditEntry:
    """Append one row to the chain inside ``session``'s transaction (it commits with the action it records)."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    fields = {"id": head.last_id + 1, "at": utc_now(), "clinic_id": clinic_id, "user_id": user_id,
              "username": username, "action": action, "object_type": object_type, "object_id": object_id,
              "patient_id": patient_id, "detail": json.dumps(detail or {}, sort_keys=True), "ip": ip}
    digest = row_hash(_key(session), head.last_hash, fields)
    entry = AuditEntry(**fields, prev_hash=head.last_hash, row_hash=digest)
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=fields["id"], last_hash=digest))
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    ok: bool
    problem: str = ""


def verify_chain(session: Session, batch: int = 5000) -> ChainCheck:
    """Recompute every row's hash in id order; the first break is reported."""
    prev, expected_id, rows = GENESIS_HASH, 1, 0
    last_id = 0
    key = _key(session)
    while True:
        entries = session.execute(select(AuditEntry).where(AuditEntry.id > last_id)
                                  .order_by(AuditEntry.id).limit(batch)).scalars().all()
        if not entries:
            break
        for entry in entries:
            if entry.id != expected_id:
                return ChainCheck(rows, False, f"row {expected_id} is missing (next row is {entry.id})")
            if entry.prev_hash != prev:
                return ChainCheck(rows, False, f"row {entry.id}: its previous-row hash does not match row "
                                               f"{entry.id - 1}")
            fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
            if row_hash(key, prev, fields) != entry.row_hash:
                return ChainCheck(rows, False, f"row {entry.id} ({entry.action} by {entry.username!r} at "
                                               f"{entry.at}) was changed after it was written")
            prev, expected_id, rows, last_id = entry.row_hash, entry.id + 1, rows + 1, entry.id
    head = session.get(AuditHead, 1)
    if head is None or head.last_id != rows or head.last_hash != prev:
        return ChainCheck(rows, False, f"the log ends at row {rows} but its head records row "
                                       f"{head.last_id if head else '?'}: rows were removed from the end")
    return ChainCheck(rows, True)
