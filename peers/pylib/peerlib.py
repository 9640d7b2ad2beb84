"""Shared helpers for the Python peers: JSON case output, per-case timeout,
expected record contents and verification."""
import json
import signal
import time

CASE_TIMEOUT = 60
PARTITIONS = 3


class CaseTimeout(Exception):
    pass


class Reporter:
    def __init__(self, peer):
        self.peer = peer
        self.failed = False

    def emit(self, case, ok, detail="", skipped=False):
        rec = {"peer": self.peer, "case": case, "ok": bool(ok), "detail": str(detail)[:500]}
        if skipped:
            rec["skipped"] = True
        if not ok:
            self.failed = True
        print(json.dumps(rec), flush=True)

    def run(self, name, fn, *args):
        """Runs fn under a CASE_TIMEOUT alarm; fn returns a detail string."""
        def _alarm(signum, frame):
            raise CaseTimeout("case timed out after %ds" % CASE_TIMEOUT)

        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(CASE_TIMEOUT)
        t0 = time.monotonic()
        try:
            detail = fn(*args)
            self.emit(name, True, "%s (%.2fs)" % (detail, time.monotonic() - t0))
            return True
        except Exception as e:  # noqa: BLE001
            self.emit(name, False, "%s: %s" % (type(e).__name__, e))
            return False
        finally:
            signal.alarm(0)

    def skip_failed(self, cases, why):
        for c in cases:
            self.emit(c, False, "not run: " + why)


def expected(peer, i):
    """(key, value, headers) of record i."""
    return (b"key-%d" % i, b"value-%d" % i, [("peer", peer.encode()), ("idx", str(i).encode())])


def verify(peer, records, n, produced):
    """records: list of (partition, offset, key, value, headers as [(str, bytes)]).
    produced: {i: (partition, offset)} from the producer acks, or None."""
    if len(records) != n:
        raise AssertionError("got %d records, want %d" % (len(records), n))
    seen, last = set(), {}
    for part, off, key, val, headers in records:
        i = int(key.decode().split("-")[1])
        if i in seen:
            raise AssertionError("duplicate record %d" % i)
        seen.add(i)
        k, v, h = expected(peer, i)
        if key != k or val != v:
            raise AssertionError("record %d: key/value %r/%r" % (i, key, val))
        if [(hk, bytes(hv)) for hk, hv in (headers or [])] != h:
            raise AssertionError("record %d: headers %r" % (i, headers))
        if part in last and i <= last[part]:
            raise AssertionError("partition %d out of order: %d after %d" % (part, i, last[part]))
        last[part] = i
        if produced is not None and produced.get(i) != (part, off):
            raise AssertionError("record %d at %d/%d, producer said %r" % (i, part, off, produced.get(i)))
    return "%d records over %d partition(s), content and order ok" % (n, len(last))
