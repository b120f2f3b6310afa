#!/usr/bin/python3
"""check_dsn.py FILE - parse a DSN with Python's email package and print a JSON summary.

Used by tests/unit/dsn/dsn_builder_test.cpp: the C++ test writes a DSN to FILE, runs this
with /usr/bin/python3, and checks the summary field by field. The parse is the standard
library's (email.parser.BytesParser with email.policy.default), so the DSN is judged by a
MIME parser that we did not write. Besides the parsed structure it reports what a parser
forgives silently: defects, line lengths, bare CR/LF and boundary misuse.
"""
import email.policy
import json
import sys
from email.parser import BytesParser

POLICY = email.policy.default


def field_dict(msg):
    """Header fields of a Message as {name: unfolded value}, plus repeated names."""
    out, dups = {}, []
    for name, value in msg.items():
        if name in out:
            dups.append(name)
        out[name] = str(value)
    return out, dups


def parse_blocks(data):
    """Blocks of "Name: value" lines separated by empty lines (RFC 3464 2.1)."""
    blocks = []
    for chunk in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        if chunk.strip():
            blocks.append(BytesParser(policy=POLICY).parsebytes(chunk + b"\n", headersonly=True))
    return blocks


def raw_parts(raw, boundary):
    """The body of each part, cut from the raw bytes at the delimiter lines."""
    pieces = raw.split(b"\r\n--" + boundary.encode())
    out = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        out.append(piece.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in piece else b"")
    return out


def status_blocks(part, raw_body):
    if part.get_content_type() == "message/delivery-status":
        # The email package splits this type itself: one Message per block.
        return part.get_payload()
    # message/global-delivery-status is not special to the email package (it parses it as
    # one message/* part), so split the raw UTF-8 text of the part into its blocks.
    return parse_blocks(raw_body)


def returned_summary(part):
    ctype = part.get_content_type()
    out = {"content_type": ctype, "cte": part.get("Content-Transfer-Encoding", "")}
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        inner = payload[0]
        out["headers"], _ = field_dict(inner)
        body = inner.get_payload()
        out["body"] = body if isinstance(body, str) else None
    else:
        raw = part.get_payload(decode=True) or b""
        out["headers"], _ = field_dict(BytesParser(policy=POLICY).parsebytes(raw, headersonly=True))
        out["body"] = None
        out["size"] = len(raw)
    return out


def main():
    raw = open(sys.argv[1], "rb").read()
    msg = BytesParser(policy=POLICY).parsebytes(raw)
    summary = {}
    summary["headers"], summary["duplicate_headers"] = field_dict(msg)
    summary["content_type"] = msg.get_content_type()
    summary["report_type"] = msg.get_param("report-type")
    boundary = msg.get_boundary()
    summary["boundary"] = boundary

    lines = raw.split(b"\r\n")
    summary["max_line"] = max(len(line) for line in lines)
    summary["bare_lf"] = raw.count(b"\n") != raw.count(b"\r\n")
    summary["bare_cr"] = raw.count(b"\r") != raw.count(b"\r\n")
    summary["ends_with_crlf"] = raw.endswith(b"\r\n")
    summary["eight_bit"] = any(b >= 0x80 for b in raw)

    # The boundary may appear only in the Content-Type parameter and on delimiter lines.
    if boundary:
        b = boundary.encode()
        delimiters = sum(1 for line in lines if line == b"--" + b)
        closers = sum(1 for line in lines if line == b"--" + b + b"--")
        summary["delimiters"] = delimiters
        summary["closers"] = closers
        summary["boundary_elsewhere"] = raw.count(b) - delimiters - closers - 1

    defects = []
    for part in msg.walk():
        defects += [type(d).__name__ for d in part.defects]
    summary["defects"] = defects

    parts = msg.get_payload() if msg.is_multipart() else []
    summary["parts"] = [
        {
            "content_type": p.get_content_type(),
            "charset": p.get_content_charset(),
            "description": p.get("Content-Description", ""),
            "cte": p.get("Content-Transfer-Encoding", ""),
        }
        for p in parts
    ]
    if len(parts) >= 1 and parts[0].get_content_maintype() == "text":
        summary["text"] = parts[0].get_content()
    if len(parts) >= 2:
        blocks = status_blocks(parts[1], raw_parts(raw, boundary)[1])
        dicts = [field_dict(b) for b in blocks]
        summary["per_message"] = dicts[0][0] if dicts else {}
        summary["recipients"] = [d for d, _ in dicts[1:]]
        summary["duplicate_fields"] = sum((dup for _, dup in dicts), [])
    if len(parts) >= 3:
        summary["returned"] = returned_summary(parts[2])
    json.dump(summary, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
