#!/usr/bin/env python3
"""The reference reading of the public corpus, and its comparison with Read Email's records.

The reference is an independent MIME parser, Python's `email` package (policy.default),
with RFC 8621 section 4.1.4's body selection (the rule Read Email documents: which
parts are the text body, the HTML body and the attachments). Each message is parsed
from the very bytes the connector read (the record's `raw_base64`), so only the two
parsers differ, never the server's copy.

    reference.py FILES RECORDS KNOWN

FILES: the corpus files in delivery order (UID n is line n). RECORDS: the connector's
output (JSON lines; records carry `uid`). KNOWN: the differences that are known and
explained, one `file<TAB>field<TAB>why` a line. Prints one JSON object: the counts, the
agreement, and every difference (each marked known or not), plus the known ones that
no longer occur.

Each message has FIELDS compared; a message the connector did not read counts as a
difference on every field. The comparison rules (what counts as equal) are in
docs/src/read-fidelity.md.
"""

import base64
import email
import email.policy
import email.utils
import hashlib
import json
import re
import sys
from datetime import timezone

FIELDS = [
    "subject",
    "from",
    "to",
    "cc",
    "reply_to",
    "date",
    "message_id",
    "in_reply_to",
    "references",
    "text",
    "html",
    "attachments",
]

INLINE_MEDIA = ("image/", "audio/", "video/")


def collapse(s):
    return " ".join(s.split()) if isinstance(s, str) else s


def safe(name):
    """The connector's documented file-name rule (no directory parts, no controls)."""
    if name is None:
        return None
    out = "".join("_" if c in "/\\" or ord(c) < 32 or 127 <= ord(c) < 160 else c for c in name)
    out = out.strip()
    while len(out.encode()) > 255:
        out = out[:-1]
    if not out or set(out) == {"."}:
        return "attachment"
    return out


def header(msg, name):
    try:
        return msg[name]
    except Exception as e:  # the reference could not read it: say so
        return f"<reference error: {type(e).__name__}>"


ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")


def rfc2047(text):
    """Unstructured text with its encoded words decoded (RFC 2047): white space
    between two encoded words is dropped (section 6.2), all other text kept; each
    word decoded by its own charset label (mapped as for bodies)."""
    import binascii

    out, at, last_end, last_was_word = [], 0, 0, False
    for m in ENCODED_WORD.finditer(text):
        between = text[last_end : m.start()]
        if not (last_was_word and between.strip() == ""):
            out.append(between)
        charset, kind, data = m.group(1).split("*")[0].lower(), m.group(2).upper(), m.group(3)
        try:
            if kind == "B":
                raw = binascii.a2b_base64(data + "=" * (-len(data) % 4))
            else:
                raw = re.sub(
                    r"=([0-9A-Fa-f]{2})",
                    lambda h: chr(int(h.group(1), 16)),
                    data.replace("_", " "),
                ).encode("latin-1")
            label = LABELS.get(charset, charset)
            try:
                out.append(raw.decode(label, errors="replace"))
            except LookupError:
                out.append(raw.decode("utf-8", errors="replace"))
        except (binascii.Error, UnicodeEncodeError):
            out.append(m.group(0))
        last_end, last_was_word = m.end(), True
    out.append(text[last_end:])
    return "".join(out)


def subject(msg):
    """The subject, its encoded words decoded with the same charset labels as
    bodies (Python's own decoding does not know `iso-8859-8-i`, for one)."""
    import email.header

    v = header(msg, "subject")
    if v is None:
        return None
    raw = next((val for k, val in msg.raw_items() if k.lower() == "subject"), str(v))
    if "=?" in raw:
        return collapse(rfc2047(raw)) or None
    return collapse(str(v)) or None


def address(spec):
    spec = (spec or "").strip()
    return None if spec in ("", "<>") else spec


def addresses(msg, name):
    v = header(msg, name)
    if v is None:
        return []
    if isinstance(v, str) and v.startswith("<reference error"):
        raw = next((val for k, val in msg.raw_items() if k.lower() == name), "")
        return [[n or None, address(a)] for n, a in email.utils.getaddresses([raw]) if n or a]
    # RFC 822 mailers wrote the name as a comment after the address
    # (`a@b (Name)`); the legacy parser reads it as the display name.
    raw = next((val for k, val in msg.raw_items() if k.lower() == name), str(v))
    legacy = {}
    for n, a in email.utils.getaddresses([raw]):
        if n and a:
            legacy.setdefault(a, n)
    encoded = "=?" in raw
    try:
        out = []
        for a in v.addresses:
            spec = address(a.addr_spec)
            name = a.display_name
            if encoded and spec in legacy:
                # Python's structured parser mis-spaces names made of encoded words
                # (`MySurvey .com & C arol`): decode the name as written.
                name = collapse(rfc2047(legacy[spec]))
            out.append([collapse(name or legacy.get(spec)) or None, spec])
        return out
    except Exception:
        # The modern parser gave up on the field: the legacy one reads it.
        return [[n or None, address(a)] for n, a in email.utils.getaddresses([str(v)])]


COMMENT = re.compile(r"\([^()]*\)")


def date(msg):
    """Python's parsedate, with two corrections to RFC 5322: comments are removed
    first (CFWS; Python ignores a zone after one), and two- and three-digit years
    follow section 4.3 (00-49 are 2000-2049, others add 1900; Python's cut is 68)."""
    v = header(msg, "date")
    if v is None:
        return None
    text = next((val for k, val in msg.raw_items() if k.lower() == "date"), str(v))
    for _ in range(8):
        text = COMMENT.sub(" ", text)
    text = re.sub(r"\s*:\s*", ":", " ".join(text.split()))
    parsed = email.utils.parsedate_tz(text)
    if parsed is None or parsed[3] > 23 or parsed[4] > 59 or parsed[5] > 60:
        return None
    year = parsed[0]
    # The year is the second plain number (day month year, or asctime's month day
    # time year); written with two or three digits, section 4.3 says what it means.
    numbers = [t for t in re.findall(r"[+-]?\d+(?::\d+)*", text) if t.isdigit()]
    if len(numbers) >= 2 and len(numbers[1]) in (2, 3):
        n = int(numbers[1])
        year = (2000 + n if n < 50 else 1900 + n) if len(numbers[1]) == 2 else 1900 + n
    parsed = (year,) + tuple(parsed[1:])
    try:
        import calendar

        ts = calendar.timegm(parsed[:6] + (0, 1, -1)) - (parsed[9] or 0)
    except Exception:
        return None
    return int(ts)


IDS = re.compile(r"<([^<>]*)>")


def ids(msg, name):
    v = header(msg, name)
    if v is None:
        return []
    found = IDS.findall(str(v))
    if not found:
        bare = str(v).strip()
        return [bare] if bare else []
    return [i.strip() for i in found]


def ctype(part):
    return part.get_content_type().lower()


def disposition(part):
    d = part.get("content-disposition")
    if d is None:
        return None
    return str(d).split(";")[0].strip().lower()


def name(part):
    try:
        n = part.get_filename()
    except Exception:
        n = None
    if n is None:
        n = part.get_param("name")
        if isinstance(n, tuple):
            n = email.utils.collapse_rfc2231_value(n)
    if isinstance(n, str) and "=?" in n:
        # Encoded words in a parameter (not RFC 2047, written by many mailers and
        # decoded by every client), quoted or not.
        import email.header

        try:
            n = str(email.header.make_header(email.header.decode_header(n)))
        except Exception:
            pass
    return n


def structure(parts, multipart_type, in_alternative, html_body, text_body, attachments):
    """RFC 8621 section 4.1.4 `parseStructure`, line for line."""
    text_length = len(text_body) if text_body is not None else -1
    html_length = len(html_body) if html_body is not None else -1
    for i, part in enumerate(parts):
        t = ctype(part)
        is_multipart = t.startswith("multipart/")
        is_inline = (
            disposition(part) != "attachment"
            and (t in ("text/plain", "text/html") or t.startswith(INLINE_MEDIA))
            and (
                i == 0
                or (
                    multipart_type != "related"
                    and (t.startswith(INLINE_MEDIA) or not name(part))
                )
            )
        )
        if is_multipart:
            sub = t.split("/", 1)[1]
            children = part.get_payload()
            if not isinstance(children, list):
                children = []
            structure(
                children,
                sub,
                in_alternative or sub == "alternative",
                html_body,
                text_body,
                attachments,
            )
        elif is_inline:
            if multipart_type == "alternative":
                if t == "text/plain":
                    text_body.append(part)
                elif t == "text/html":
                    html_body.append(part)
                else:
                    attachments.append(part)
                continue
            elif in_alternative:
                if t == "text/plain":
                    html_body = None
                if t == "text/html":
                    text_body = None
            if text_body is not None:
                text_body.append(part)
            if html_body is not None:
                html_body.append(part)
            if (text_body is None or html_body is None) and t.startswith(INLINE_MEDIA):
                attachments.append(part)
        else:
            attachments.append(part)
    if multipart_type == "alternative" and text_body is not None and html_body is not None:
        if text_length == len(text_body) and html_length != len(html_body):
            text_body.extend(html_body[html_length:])
        if html_length == len(html_body) and text_length != len(text_body):
            html_body.extend(text_body[text_length:])


def decoded(part):
    """The part's bytes with its transfer encoding undone. The encoding's name is
    read with the white space around it removed (`base64 ` is base64: RFC 2045
    tokens may be surrounded by white space; Python then leaves the body encoded)."""
    import quopri

    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte in ("base64", "quoted-printable") and not part.is_multipart():
        raw = part.get_payload(decode=False)
        if isinstance(raw, str):
            try:
                data = raw.encode("ascii", "surrogateescape")
            except UnicodeEncodeError:
                data = None  # Python decoded 8-bit text itself: its own decoding below
        else:
            data = None
        if data is not None:
            if cte == "base64":
                import binascii

                clean = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
                rest = len(clean) % 4
                clean = clean[:-1] if rest == 1 else clean + b"=" * ((4 - rest) % 4)
                try:
                    return binascii.a2b_base64(clean)
                except binascii.Error:
                    pass
            else:
                return quopri.decodestring(data)
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    return payload if isinstance(payload, bytes) else b""


# Charset labels decoded as the WHATWG Encoding Standard says mail and web clients
# do (Latin-1 is windows-1252, GB2312 is GBK, ...); ASCII (or no label) is read as
# UTF-8, its superset, the usual cause of 8-bit text in an ASCII-labelled part.
LABELS = {
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso_8859-1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gbk",
    "gb_2312-80": "gbk",
    "x-gbk": "gbk",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "big5": "big5hkscs",
    "iso-8859-8-i": "iso8859_8",
    "x-mac-cyrillic": "mac_cyrillic",
}


def text_of(part):
    raw = decoded(part)
    charset = (part.get_content_charset() or "us-ascii").lower()
    charset = LABELS.get(charset, charset)
    try:
        s = raw.decode(charset, errors="replace")
    except LookupError:
        s = raw.decode("utf-8", errors="replace")
    return s.replace("\r\n", "\n").rstrip()


UU_BEGIN = re.compile(r"^begin [0-7]{3,4} (.*\S)\s*$")


def uudecode(text):
    """uuencoded files in a text body (`begin 644 name` ... `end`): taken out of the
    text and returned as files, decoded by Python's own binascii."""
    import binascii

    lines = text.split("\n")
    kept, files, i = [], [], 0
    while i < len(lines):
        m = UU_BEGIN.match(lines[i])
        if m:
            data, j, ok = b"", i + 1, False
            while j < len(lines):
                line = lines[j].rstrip("\r")
                if line == "end":
                    ok = True
                    break
                if not line:
                    break
                try:
                    data += binascii.a2b_uu(line)
                except binascii.Error:
                    break
                j += 1
            if ok:
                files.append((m.group(1).strip(), data))
                i = j + 1
                continue
        kept.append(lines[i])
        i += 1
    if not files:
        return text, []
    return "\n".join(kept).rstrip(), files


def leaves(part):
    """Every part that is not a multipart, in document order; a multipart whose parts
    cannot be found (no boundary in the body) is a leaf."""
    out, stack = [], [part]
    while stack:
        p = stack.pop()
        children = p.get_payload() if p.is_multipart() else None
        if isinstance(children, list) and ctype(p).startswith("multipart/"):
            stack.extend(reversed(children))
        else:
            out.append(p)
    return out


def bodies(msg):
    text_body, html_body, attachments = [], [], []
    if ctype(msg).startswith("multipart/") and isinstance(msg.get_payload(), list):
        structure(
            msg.get_payload(),
            ctype(msg).split("/", 1)[1],
            ctype(msg) == "multipart/alternative",
            html_body,
            text_body,
            attachments,
        )
    else:
        structure([msg], "mixed", False, html_body, text_body, attachments)
    texts_parts = [p for p in text_body if ctype(p) == "text/plain"]
    html_parts = [p for p in html_body if ctype(p) == "text/html"]
    uu = []
    texts = []
    for p in texts_parts:
        t, files = uudecode(text_of(p))
        texts.append(t)
        uu.extend(files)
    htmls = [text_of(p) for p in html_parts]
    text = "\n\n".join(texts).rstrip() if texts else None
    html = htmls[0] if htmls else None
    # The record's attachments: every other part, inline images included (RFC 8621
    # lists those among the bodies, to be shown in place; a record needs their bytes).
    body = {id(p) for p in texts_parts + html_parts}
    atts = []
    for p in leaves(msg):
        if id(p) in body:
            continue
        t = ctype(p)
        data = decoded(p)
        if t.startswith("multipart/") and not data.strip():
            continue  # an empty multipart: nothing to give
        digest = None if t.startswith("message/") else hashlib.sha256(data).hexdigest()
        atts.append([safe(name(p)), t, digest])
    for n, data in uu:
        import mimetypes

        guessed = mimetypes.guess_type(n)[0] or "application/octet-stream"
        atts.append([safe(n), guessed, hashlib.sha256(data).hexdigest()])
    return text, html, atts


HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:")


def header_section(raw):
    """Where the header section ends and what its lines are, by RFC 5322 as the
    connector (and Dovecot) read it, before Python sees the message: a leading UTF-8
    byte-order mark is dropped; whitespace before a field's colon (obsolete syntax,
    section 4.5) is removed; a line that is neither a field nor a continuation is
    skipped (Python would end the header section there); a line of only spaces
    continues a field (obs-FWS). Returns the
    bytes to parse and whether any rule changed them."""
    changed = False
    if raw.startswith(b"\xef\xbb\xbf"):
        raw, changed = raw[3:], True
    lines = raw.split(b"\n")
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        bare = line.rstrip(b"\r")
        if bare == b"":
            break
        if not out and line.startswith(b"From "):
            out.append(line)  # an mbox separator line: Python skips it itself
            i += 1
            continue
        if line[:1] in (b" ", b"\t"):
            if not out:
                changed = True  # whitespace before the first field: not a field
                i += 1
                continue
            if not bare.strip():
                # obs-FWS: a line of spaces inside a field continues it
                changed = True
                i += 1
                continue
            out.append(line)
        elif HEADER_LINE.match(line):
            name, rest = line.split(b":", 1)
            if name != name.rstrip(b" \t"):
                changed = True
            out.append(name.rstrip(b" \t") + b":" + rest)
        elif out:
            changed = True  # neither a field nor a continuation: not part of any field
        else:
            changed = True  # before any field: a message with no header
            break
        i += 1
    if not changed:
        return raw, False
    return b"\n".join(out + lines[i:]) if out else b"\n" + b"\n".join(lines[i:]), True


def utf8(s):
    """RFC 6532: 8-bit header text is UTF-8 (Python keeps it as surrogate escapes)."""
    if isinstance(s, str):
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(s, list):
        return [utf8(x) for x in s]
    return s


UNQUOTED_PARAM = re.compile(rb'(?i)(;\s*(?:boundary|name|filename)=)(?!")([^\s";]*[=?][^\s";]*)')


def lenient_params(raw):
    """Unquoted parameter values that hold characters a token may not (`=` in
    `boundary=----=_NextPart_...`, an encoded word in `name==?koi8-r?B?...?=`),
    quoted, as the mailers that write them mean them: Python's parser would stop
    such a value at the first `=`."""
    return UNQUOTED_PARAM.sub(lambda m: m.group(1) + b'"' + m.group(2) + b'"', raw)


def reference(raw):
    raw, _ = header_section(raw)
    raw = lenient_params(raw)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text, html, atts = bodies(msg)
    return {
        "subject": utf8(subject(msg)),
        "from": utf8(addresses(msg, "from")),
        "to": utf8(addresses(msg, "to")),
        "cc": utf8(addresses(msg, "cc")),
        "reply_to": utf8(addresses(msg, "reply-to")),
        "date": date(msg),
        "message_id": (ids(msg, "message-id") or [None])[0],
        "in_reply_to": (ids(msg, "in-reply-to") or [None])[0],
        "references": ids(msg, "references"),
        "text": text,
        "html": html,
        "attachments": atts,
    }


def stamp(iso):
    if iso is None:
        return None
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def unbracket(i):
    return None if i is None else i.strip().strip("<>").strip()


def connector(rec):
    atts = []
    for a in rec.get("attachments", []):
        t = a["content_type"].lower()
        digest = None
        if not t.startswith("message/") and a.get("content_base64") is not None:
            digest = hashlib.sha256(base64.b64decode(a["content_base64"])).hexdigest()
        atts.append([a.get("filename"), t, digest])
    addr = lambda k: [
        [collapse(x.get("name")) or None, x.get("address") or None] for x in rec.get(k, [])
    ]
    return {
        "subject": collapse(rec.get("subject")),
        "from": addr("from"),
        "to": addr("to"),
        "cc": addr("cc"),
        "reply_to": addr("reply_to"),
        "date": stamp(rec.get("date")),
        "message_id": unbracket(rec.get("message_id")),
        "in_reply_to": unbracket(rec.get("in_reply_to")),
        "references": [unbracket(r) for r in rec.get("references", [])],
        "text": trimmed(rec.get("text")),
        "html": trimmed(rec.get("html")),
        "attachments": atts,
    }


def trimmed(body):
    return None if body is None else body.rstrip()


def main():
    files_path, records_path, known_path = sys.argv[1:4]
    files = [l.rstrip("\n") for l in open(files_path, encoding="utf-8") if l.strip()]
    records = {}
    for line in open(records_path, encoding="utf-8"):
        line = line.strip()
        if not line:
            continue
        obj = json.loads(line)
        rec = obj.get("record", obj)
        if isinstance(rec, dict) and "uid" in rec:
            records[rec["uid"]] = rec
    known = {}
    for line in open(known_path, encoding="utf-8"):
        if not line.strip() or line.startswith("#"):
            continue
        f, field, why = line.rstrip("\n").split("\t", 2)
        known[(f, field)] = why
    compared = equal = 0
    differences = []
    seen_known = set()
    for uid, path in enumerate(files, start=1):
        rel = path.split("corpus/public/", 1)[-1]
        rec = records.get(uid)
        if rec is None:
            for field in FIELDS:
                compared += 1
                k = (rel, field)
                seen_known.add(k) if k in known else None
                differences.append(
                    {"file": rel, "field": field, "connector": "(not read)", "known": known.get(k)}
                )
            continue
        raw = base64.b64decode(rec["raw_base64"])
        ref = reference(raw)
        ours = connector(rec)
        for field in FIELDS:
            compared += 1
            if ref[field] == ours[field]:
                equal += 1
                continue
            k = (rel, field)
            if k in known:
                seen_known.add(k)
            differences.append(
                {
                    "file": rel,
                    "field": field,
                    "reference": ref[field],
                    "connector": ours[field],
                    "known": known.get(k),
                }
            )
    print(
        json.dumps(
            {
                "messages": len(files),
                "read": sum(1 for uid in range(1, len(files) + 1) if uid in records),
                "compared": compared,
                "equal": equal,
                "agreement": equal / compared if compared else 0.0,
                "differences": differences,
                "known_not_seen": sorted(f"{f}\t{field}" for (f, field) in known if (f, field) not in seen_known),
            },
            indent=1,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
