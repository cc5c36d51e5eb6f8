"""Reader and checker for the data-driven DNS cases in tests/data/cases/*.case.

Format (one file holds many cases; '#' starts a comment line; blank lines are
ignored):

    case NAME                       starts a case (NAME unique in the file)
    query QNAME QTYPE [QCLASS]      the question (QCLASS defaults to IN)
    qflags rd cd                    header flags of the query (default: none)
    opcode NOTIFY                   opcode of the query (default QUERY)
    edns [version=N] [payload=N] [do] [nsid] [option=CODE:HEX]
                                    send an OPT record (default: no EDNS)
    raw HEX...                      send these bytes instead of building a
                                    query (several raw lines are joined; the
                                    first two bytes are replaced by a random id)
    over udp4 udp6 tcp4 tcp6        transports (also: udp, tcp; default all four)
    server default|bare             the daemon: default has nsid/identity/version,
                                    bare has none of them

    rcode NAME [NAME...] | noreply  expected rcode; several names (or noreply)
                                    mean "any of these"
    flags qr aa ?tc ...             the response's header flags, exactly (among
                                    qr aa tc rd ra ad cd); ?x means x may or may
                                    not be set
    opt none | [version=N] [payload=N] [nsid=ASCII|nsid=none] [do|nodo]
                                    expected OPT; without this line the reply
                                    must have OPT (version 0, payload 1232, DO
                                    copied, NSID only when asked for) exactly
                                    when the query had one
    answer: [exact|ignore|subset|some|one-rrset]
    authority: [...]
    additional: [...]
        indented RR lines: OWNER TTL CLASS TYPE RDATA (absolute names)
                                    a section not mentioned must be empty;
                                    exact: the section is this set of RRs;
                                    subset: every RR is one of these;
                                    some: subset, and not empty;
                                    one-rrset: not empty, every RR one of these,
                                    and all of one owner and type (RFC 8482)

Besides, for every reply: the id matches, QR is set, and for built queries
the question section is the one sent, byte for byte (name case preserved).
"""

import binascii
import os
import random
import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

import gslbtest

TRANSPORTS = ("udp4", "udp6", "tcp4", "tcp6")
SECTIONS = ("answer", "authority", "additional")
MODES = ("exact", "ignore", "subset", "some", "one-rrset")


class CaseError(Exception):
    pass


class Case:
    def __init__(self, name, path, line):
        self.name = name
        self.path = path
        self.line = line
        self.qname = None
        self.qtype = "A"
        self.qclass = "IN"
        self.qflags = []
        self.opcode = None
        self.edns = None  # dict when EDNS is used
        self.raw = None
        self.over = list(TRANSPORTS)
        self.server = "default"
        self.rcodes = None  # list; "noreply" may be one of them
        self.flags = None  # (required set, optional set)
        self.opt = None  # None = default rule, "none", or dict
        self.sections = {}  # section -> (mode, set of lines)

    @property
    def id(self):
        return "%s:%s" % (os.path.basename(self.path), self.name)

    def where(self):
        return "%s:%d (case %s)" % (self.path, self.line, self.name)

    # -- building the query
    def wire(self, qid):
        if self.raw is not None:
            data = bytearray(self.raw)
            if len(data) >= 2:
                data[0:2] = struct.pack("!H", qid)
            return bytes(data), None
        options = []
        ednsflags = 0
        version = None
        payload = gslbtest.EDNS_SIZE
        if self.edns is not None:
            version = self.edns.get("version", 0)
            payload = self.edns.get("payload", gslbtest.EDNS_SIZE)
            if self.edns.get("do"):
                ednsflags |= dns.flags.DO
            if self.edns.get("nsid"):
                options.append(dns.edns.GenericOption(dns.edns.NSID, b""))
            for code, data in self.edns.get("options", []):
                options.append(dns.edns.GenericOption(code, data))
        q = gslbtest.make_query(self.qname, self.qtype, self.qclass,
                                rd="rd" in self.qflags, edns=version, payload=payload,
                                ednsflags=ednsflags, options=options,
                                opcode=self.opcode, qid=qid)
        if "cd" in self.qflags:
            q.flags |= dns.flags.CD
        wire = q.to_wire()
        return wire, wire[12:question_end(wire)]

    def expects_reply_only_maybe(self):
        return self.rcodes is not None and "noreply" in self.rcodes

    # -- checking
    def check(self, wire_sent, question, reply):
        """A list of problems (empty = pass)."""
        problems = []
        if reply is None:
            if "noreply" not in self.rcodes:
                problems.append("no reply (expected rcode %s)" % " or ".join(self.rcodes))
            return problems
        if self.rcodes == ["noreply"]:
            return ["a reply was sent, expected none: %s" % reply.hex()]
        if len(reply) < 12:
            return ["reply shorter than a header: %s" % reply.hex()]
        if reply[:2] != wire_sent[:2]:
            problems.append("reply id %s, query id %s" % (reply[:2].hex(), wire_sent[:2].hex()))
        try:
            msg, reply_opcode = gslbtest.parse_lenient(reply)
        except Exception as e:  # noqa: BLE001 - any parse failure is a finding
            return problems + ["reply does not parse (%r): %s" % (e, reply.hex())]
        rc = dns.rcode.to_text(msg.rcode())
        if rc not in self.rcodes:
            problems.append("rcode %s, expected %s" % (rc, " or ".join(self.rcodes)))
        if self.raw is None:
            want_op = (wire_sent[2] >> 3) & 0x0F
            if reply_opcode != want_op:
                problems.append("opcode %d in reply, query had %d" % (reply_opcode, want_op))
        got_flags = gslbtest.flag_set(msg)
        if "qr" not in got_flags:
            problems.append("QR not set")
        if self.flags is not None:
            req, opt = self.flags
            missing = req - got_flags
            extra = got_flags - req - opt
            if missing or extra:
                problems.append("flags %s, expected %s%s" % (
                    " ".join(sorted(got_flags)) or "(none)", " ".join(sorted(req)),
                    (" (optional: %s)" % " ".join(sorted(opt))) if opt else ""))
        if question is not None and rc != "FORMERR":
            qdcount = struct.unpack("!H", reply[4:6])[0]
            if qdcount == 0 and rc in ("NOERROR", "NXDOMAIN", "REFUSED"):
                problems.append("no question section in the reply")
            elif qdcount > 0:
                qend = question_end(reply)
                got_q = reply[12:qend] if qend else None
                if got_q != question:
                    problems.append("question section %r, sent %r (case must be preserved)"
                                    % (got_q, question))
        problems += self._check_opt(msg)
        for sec in SECTIONS:
            got = gslbtest.rr_lines(getattr(msg, sec))
            mode, want = self.sections.get(sec, ("exact", frozenset()))
            problems += check_section(sec, mode, want, got)
        return problems

    def _check_opt(self, msg):
        sent_edns = self.edns is not None and self.raw is None
        exp = self.opt
        if exp is None:
            if self.raw is not None:
                return []
            exp = "none" if not sent_edns else {
                "version": 0, "payload": gslbtest.EDNS_SIZE,
                "do": bool(self.edns.get("do")),
                "nsid": (gslbtest.NSID if self.server == "default" else None)
                if self.edns.get("nsid") else None,
            }
        if exp == "none":
            if msg.edns >= 0:
                return ["OPT in reply, expected none"]
            return []
        if msg.edns < 0:
            return ["no OPT in reply, expected one"]
        problems = []
        if "version" in exp and msg.edns != exp["version"]:
            problems.append("EDNS version %d, expected %d" % (msg.edns, exp["version"]))
        if "payload" in exp and msg.payload != exp["payload"]:
            problems.append("EDNS payload %d, expected %d" % (msg.payload, exp["payload"]))
        if "do" in exp:
            got_do = bool(msg.ednsflags & dns.flags.DO)
            if got_do != exp["do"]:
                problems.append("DO bit %s in reply, expected %s" % (got_do, exp["do"]))
        if "nsid" in exp:
            got = [o for o in msg.options if int(o.otype) == dns.edns.NSID]
            got_v = got[0].to_wire() if got else None
            if got_v != exp["nsid"]:
                problems.append("NSID %r, expected %r" % (got_v, exp["nsid"]))
        return problems


def check_section(sec, mode, want, got):
    if mode == "ignore":
        return []
    if mode == "exact":
        if got == want:
            return []
        return ["%s section differs:\n  missing: %s\n  unexpected: %s" % (
            sec, fmt(want - got), fmt(got - want))]
    extra = got - want
    problems = []
    if extra:
        problems.append("%s section has RRs not allowed: %s" % (sec, fmt(extra)))
    if mode in ("one-rrset", "some"):
        if not got:
            problems.append("%s section empty, expected at least one RR" % sec)
    if mode == "one-rrset":
        kinds = {tuple(line.split()[i] for i in (0, 2, 3)) for line in got}
        if len(kinds) > 1:
            problems.append("%s section has %d RRsets, expected one: %s"
                            % (sec, len(kinds), sorted(kinds)))
    return problems


def fmt(lines):
    if not lines:
        return "(none)"
    return "".join("\n    " + s for s in sorted(lines))


def question_end(wire):
    """Offset just past the first question (name, type, class), or None."""
    if len(wire) < 12 or struct.unpack("!H", wire[4:6])[0] < 1:
        return None
    pos = 12
    while pos < len(wire):
        n = wire[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0:
            pos += 2
            break
        pos += 1 + n
    else:
        return None
    pos += 4
    return pos if pos <= len(wire) else None


# ---------------------------------------------------------------- parser

def parse_file(path):
    cases = []
    cur = None
    sec = None
    names = set()

    def err(lineno, msg):
        raise CaseError("%s:%d: %s" % (path, lineno, msg))

    with open(path) as f:
        lines = f.read().splitlines()
    for lineno, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0].isspace():
            if cur is None or sec is None:
                err(lineno, "indented RR line outside a section")
            try:
                rr = gslbtest.norm_rr_text(stripped)
            except Exception as e:  # noqa: BLE001
                err(lineno, "bad RR: %s" % e)
            if not stripped.split()[0].endswith("."):
                err(lineno, "owner must be absolute: %s" % stripped)
            mode, s = cur.sections[sec]
            cur.sections[sec] = (mode, s | {rr})
            continue
        sec = None
        words = stripped.split()
        key, args = words[0], words[1:]
        if key == "case":
            if len(args) != 1:
                err(lineno, "case takes one name")
            if args[0] in names:
                err(lineno, "duplicate case name %s" % args[0])
            names.add(args[0])
            cur = Case(args[0], path, lineno)
            cases.append(cur)
            continue
        if cur is None:
            err(lineno, "%s before the first case" % key)
        if key == "query":
            if len(args) not in (2, 3):
                err(lineno, "query QNAME QTYPE [QCLASS]")
            cur.qname = args[0]
            cur.qtype = args[1]
            cur.qclass = args[2] if len(args) == 3 else "IN"
            dns.rdatatype.from_text(cur.qtype)
            dns.rdataclass.from_text(cur.qclass)
        elif key == "qflags":
            bad = set(args) - {"rd", "cd"}
            if bad:
                err(lineno, "unknown query flags %s" % bad)
            cur.qflags = args
        elif key == "opcode":
            cur.opcode = int(args[0]) if args[0].isdigit() else args[0]
            dns.opcode.from_text(args[0]) if not args[0].isdigit() else None
        elif key == "edns":
            cur.edns = {}
            for a in args:
                if a in ("do", "nsid"):
                    cur.edns[a] = True
                elif a.startswith("option="):
                    code, _, hexdata = a[7:].partition(":")
                    cur.edns.setdefault("options", []).append(
                        (int(code), binascii.unhexlify(hexdata)))
                elif "=" in a and a.split("=")[0] in ("version", "payload"):
                    k, v = a.split("=", 1)
                    cur.edns[k] = int(v)
                else:
                    err(lineno, "unknown edns argument %s" % a)
        elif key == "raw":
            try:
                data = binascii.unhexlify("".join(args))
            except binascii.Error as e:
                err(lineno, "bad hex: %s" % e)
            cur.raw = (cur.raw or b"") + data
        elif key == "over":
            ts = []
            for a in args:
                if a in ("udp", "tcp"):
                    ts += [a + "4", a + "6"]
                elif a in TRANSPORTS:
                    ts.append(a)
                else:
                    err(lineno, "unknown transport %s" % a)
            cur.over = ts
        elif key == "server":
            if args not in (["default"], ["bare"]):
                err(lineno, "server default|bare")
            cur.server = args[0]
        elif key == "rcode":
            for a in args:
                if a != "noreply":
                    dns.rcode.from_text(a)
            cur.rcodes = args
        elif key == "flags":
            req = {a for a in args if not a.startswith("?")}
            opt = {a[1:] for a in args if a.startswith("?")}
            bad = (req | opt) - set(gslbtest.FLAG_NAMES)
            if bad:
                err(lineno, "unknown flags %s" % bad)
            cur.flags = (frozenset(req), frozenset(opt))
        elif key == "opt":
            if args == ["none"]:
                cur.opt = "none"
            else:
                d = {}
                for a in args:
                    if a == "do":
                        d["do"] = True
                    elif a == "nodo":
                        d["do"] = False
                    elif a.startswith("nsid="):
                        v = a[5:]
                        d["nsid"] = None if v == "none" else v.encode()
                    elif a.split("=")[0] in ("version", "payload"):
                        k, v = a.split("=", 1)
                        d[k] = int(v)
                    else:
                        err(lineno, "unknown opt argument %s" % a)
                cur.opt = d
        elif key.rstrip(":") in SECTIONS and key.endswith(":"):
            sec = key[:-1]
            mode = args[0] if args else "exact"
            if mode not in MODES or len(args) > 1:
                err(lineno, "section mode must be one of %s" % ", ".join(MODES))
            cur.sections[sec] = (mode, frozenset())
        else:
            err(lineno, "unknown keyword %s" % key)
    for c in cases:
        if c.rcodes is None:
            raise CaseError("%s: no rcode line" % c.where())
        if c.qname is None and c.raw is None:
            raise CaseError("%s: no query or raw line" % c.where())
        if c.flags is None and c.rcodes != ["noreply"]:
            raise CaseError("%s: no flags line" % c.where())
    return cases


def load_all(casedir):
    cases = []
    for fn in sorted(os.listdir(casedir)):
        if fn.endswith(".case"):
            cases += parse_file(os.path.join(casedir, fn))
    return cases


def new_id():
    return random.randint(1, 0xFFFF)
