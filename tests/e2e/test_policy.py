"""The policy engine against the real binary: protective markings, operator rules,
REJECT at end of DATA / BDAT, HOLD, TLS-Required: No, and `--explain`.

Every test asserts on what the queue stored (`--queue-dump`) and on the received-message
log line, not only on the SMTP replies."""
import json
import re
import subprocess

from relaytest import Relay, crlf, free_port, relay_bin, swaks, swaks_queue_id

# The NZ sample profile of DESIGN section 2, numbered as the reasons will show them.
RULES = """
[[policy.rule]]
sender = "*@secure.agency.example"
policy = "SOS"

[[policy.rule]]
classification = ["IN-CONFIDENCE", "SENSITIVE", "RESTRICTED"]
policy = "SOS"

[[policy.rule]]
classification = ["CONFIDENTIAL", "SECRET", "TOP SECRET"]
policy = "HOLD"

[[policy.rule]]
header = "X-Spam-Flag"
match = "(?i)^yes$"
policy = "REJECT"
reason = "spam is not relayed"

[[policy.rule]]
recipient_domain = "partner.example"
policy = "SOS"
tls = "verify"
"""

POLICY = {
    "subject_markers": ["[IN-CONFIDENCE]", "[SENSITIVE]", "[RESTRICTED]"],
    "unknown_marking": "SOS",
    "tls_required_no": "honor",
}


def _routes() -> str:
    """The test domains go to a closed loopback port: delivery attempts fail temporarily
    and stay queued, so what the policy stored is still there to read (and no DSN)."""
    port = free_port()
    return "".join(f'\n[[route]]\ndomain = "{d}"\nhost = "[127.0.0.1]:{port}"\n'
                   for d in ("agency.example", "dest.example", "partner.example",
                             "embassy.example"))


def policy_relay(make_relay, default="BES", rules=RULES, **extra) -> Relay:
    r = make_relay(start=False, overrides={"policy": dict(POLICY, default=default, **extra),
                                           "delivery": {"pause": False}})
    r.config_path.write_text(r.config_path.read_text() + rules + _routes())
    return r.start()


def _eml(tmp_path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _send(relay, tmp_path, text, sender="jane@agency.example", to="bob@dest.example"):
    return swaks(relay, "--from", sender, "--to", to,
                 "--data", _eml(tmp_path, "m.eml", text))


def _by_id(relay) -> dict:
    return {m["id"]: m for m in relay.dump(with_bodies=False)}


RESTRICTED_MSG = (
    "From: Jane <jane@agency.example>\n"
    "To: Bob <bob@dest.example>\n"
    "Subject: [RESTRICTED] Cabinet paper draft\n"
    "X-Protective-Marking: VER=2012.3, NS=govt.nz,\n"
    "  SEC=RESTRICTED, ORIGIN=jane@agency.example\n"
    "\n"
    "body\n")


def test_restricted_message_is_stored_as_sos(make_relay, tmp_path):
    relay = policy_relay(make_relay)
    r = _send(relay, tmp_path, RESTRICTED_MSG)
    assert r.returncode == 0, r.stdout + r.stderr
    qid = swaks_queue_id(r.stdout)
    m = _by_id(relay)[qid]
    assert m["held"] is False
    [rc] = m["recipients"]
    assert (rc["policy"], rc["tls"], rc["rule"]) == (
        "SOS", "encrypt", "rule=2(classification=RESTRICTED)")
    assert rc["state"] != "held"
    relay.wait_log(rf"{qid}: queued .* policy=SOS rule=2\(classification=RESTRICTED\)")


def test_confidential_message_is_held(make_relay, tmp_path):
    relay = policy_relay(make_relay)
    msg = ("From: jane@agency.example\nTo: bob@dest.example\n"
           "Subject: =?utf-8?Q?Tender_evaluation_[SEC=3DCONFIDENTIAL]?=\n\nbody\n")
    r = _send(relay, tmp_path, msg)
    assert r.returncode == 0, r.stdout + r.stderr
    qid = swaks_queue_id(r.stdout)
    m = _by_id(relay)[qid]
    assert m["held"] is True
    [rc] = m["recipients"]
    assert (rc["policy"], rc["state"], rc["rule"]) == (
        "HOLD", "held", "rule=3(classification=CONFIDENTIAL)")
    relay.wait_log(rf"{qid}: queued .* policy=HOLD rule=3\(classification=CONFIDENTIAL\)")


def test_hold_for_one_recipient_leaves_the_others_deliverable(make_relay, tmp_path):
    rules = RULES + '\n[[policy.rule]]\nrecipient_domain = "embassy.example"\npolicy = "HOLD"\n'
    # Rule 6 only: an unmarked message, two recipient domains.
    relay = policy_relay(make_relay, rules=rules)
    r = swaks(relay, "--from", "jane@agency.example", "--to",
              "a@dest.example,b@embassy.example,c@partner.example",
              "--data", _eml(tmp_path, "m.eml", "Subject: plain\n\nbody\n"))
    assert r.returncode == 0, r.stdout + r.stderr
    qid = swaks_queue_id(r.stdout)
    # The scheduler attempts the other two (whatever the outcome in this sandbox) ...
    relay.wait_log(rf"{qid}: to=<a@dest\.example>.* policy=BES")
    relay.wait_log(rf"{qid}: to=<c@partner\.example>.* policy=SOS")
    m = _by_id(relay)[qid]
    assert m["held"] is False
    got = [(x["address"], x["policy"], x["tls"], x["rule"]) for x in m["recipients"]]
    assert got == [
        ("a@dest.example", "BES", "none", "default"),
        ("b@embassy.example", "HOLD", "encrypt", "rule=6(recipient_domain=embassy.example)"),
        ("c@partner.example", "SOS", "verify", "rule=5(recipient_domain=partner.example)"),
    ]
    # ... and never the held one.
    held = m["recipients"][1]
    assert held["state"] == "held"
    assert "to=<b@embassy.example>" not in relay.log()


def test_reject_rule_gives_550_and_stores_nothing(make_relay, tmp_path):
    relay = policy_relay(make_relay)
    msg = "From: jane@agency.example\nSubject: cheap\nX-Spam-Flag: YES\n\nbuy now\n"
    r = _send(relay, tmp_path, msg)
    assert r.returncode != 0
    assert re.search(r"<\*\* +550 5\.7\.1 spam is not relayed", r.stdout), r.stdout
    assert "queued as" not in r.stdout
    relay.wait_log(r"reject: END-OF-DATA .* 550 5\.7\.1 spam is not relayed; "
                   r"from=<jane@agency\.example> rule=4\(header=X-Spam-Flag\)")
    assert relay.dump(with_bodies=False) == []


def test_reject_after_bdat_last_chunk(make_relay):
    relay = policy_relay(make_relay)
    with relay.connect() as c:
        c.banner()
        c.ehlo()
        c.expect("MAIL FROM:<jane@agency.example>", 250)
        c.expect("RCPT TO:<bob@dest.example>", 250)
        c1 = b"Subject: chunked\r\nX-Spam"
        c2 = b"-Flag: yes\r\n\r\nbody\r\n"
        c.send(b"BDAT %d\r\n" % len(c1) + c1)
        assert c.reply().code == 250
        c.send(b"BDAT %d LAST\r\n" % len(c2) + c2)
        r = c.reply()
        assert r.code == 550 and r.enhanced() == "5.7.1", str(r)
        assert "spam is not relayed" in r.text
        # The session goes on: a marked message over BDAT is held.
        c.expect("MAIL FROM:<jane@agency.example>", 250)
        c.expect("RCPT TO:<bob@dest.example>", 250)
        body = crlf("X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=SECRET\n\nx\n").encode()
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        r = c.reply()
        assert r.code == 250, str(r)
        qid = r.queue_id()
    m = _by_id(relay)[qid]
    assert m["held"] is True
    assert m["recipients"][0]["rule"] == "rule=3(classification=SECRET)"


def test_tls_required_no_downgrades_only_default_policy_mail(make_relay, tmp_path):
    relay = policy_relay(make_relay, default="SOS")
    plain = "From: jane@agency.example\nSubject: newsletter\nTLS-Required: No\n\nhi\n"
    marked = "From: jane@agency.example\nSubject: [IN-CONFIDENCE] staff\nTLS-Required: No\n\nhi\n"
    unmarked_no_header = "From: jane@agency.example\nSubject: other\n\nhi\n"
    ids = []
    for text in (plain, marked, unmarked_no_header):
        r = _send(relay, tmp_path, text)
        assert r.returncode == 0, r.stdout + r.stderr
        ids.append(swaks_queue_id(r.stdout))
    q = _by_id(relay)
    got = [(q[i]["recipients"][0]["policy"], q[i]["recipients"][0]["rule"]) for i in ids]
    assert got == [("BES", "tls-required-no"),
                   ("SOS", "rule=2(classification=IN-CONFIDENCE)"),
                   ("SOS", "default")]
    relay.wait_log(rf"{ids[0]}: queued .* policy=BES rule=tls-required-no")


def test_tls_required_no_ignored_when_configured(make_relay, tmp_path):
    relay = policy_relay(make_relay, default="SOS", rules="", tls_required_no="ignore")
    r = _send(relay, tmp_path, "Subject: x\nTLS-Required: No\n\nhi\n")
    assert r.returncode == 0, r.stdout + r.stderr
    m = _by_id(relay)[swaks_queue_id(r.stdout)]
    assert (m["recipients"][0]["policy"], m["recipients"][0]["rule"]) == ("SOS", "default")


def test_malformed_marking_takes_unknown_marking(make_relay, tmp_path):
    relay = policy_relay(make_relay, unknown_marking="HOLD")
    msg = "Subject: hi\nX-Protective-Marking: VER=2018.1, NS=gov.au, SEC=EYES-ONLY\n\nx\n"
    r = _send(relay, tmp_path, msg)
    assert r.returncode == 0, r.stdout + r.stderr
    m = _by_id(relay)[swaks_queue_id(r.stdout)]
    assert m["held"] is True
    assert (m["recipients"][0]["policy"], m["recipients"][0]["rule"]) == (
        "HOLD", "unknown-marking")


def test_hostile_header_section_is_bounded(make_relay, tmp_path):
    """2000 header fields: over the field limit, so the marking after them may be unread;
    the message must still be accepted, quickly, and not lose protection."""
    relay = policy_relay(make_relay)
    junk = "".join(f"X-Junk-{i}: {'y' * 40}\n" for i in range(2000))
    r = _send(relay, tmp_path, junk + "Subject: [SEC=TOP SECRET]\n\nx\n")
    assert r.returncode == 0, r.stdout + r.stderr
    m = _by_id(relay)[swaks_queue_id(r.stdout)]
    assert (m["recipients"][0]["policy"], m["recipients"][0]["rule"]) == (
        "SOS", "unknown-marking")


def _explain(relay, eml, *args):
    return subprocess.run([relay_bin(), "--config", str(relay.config_path), "--explain", eml,
                           *args], capture_output=True, text=True, timeout=30)


def test_explain_prints_the_decision_without_sending(make_relay, tmp_path):
    relay = make_relay(start=False, overrides={"policy": dict(POLICY)})
    relay.config_path.write_text(relay.config_path.read_text() + RULES)
    eml = _eml(tmp_path, "restricted.eml", RESTRICTED_MSG)
    r = _explain(relay, eml, "--from", "jane@agency.example",
                 "--rcpt", "bob@dest.example", "--rcpt", "eve@partner.example")
    assert r.returncode == 0, r.stderr
    assert "classification: RESTRICTED" in r.stdout, r.stdout
    assert ("<bob@dest.example>: policy=SOS tls=encrypt "
            "reason=rule=2(classification=RESTRICTED)") in r.stdout, r.stdout
    assert "<eve@partner.example>: policy=SOS" in r.stdout, r.stdout

    r = _explain(relay, eml, "--from", "x@secure.agency.example", "--rcpt", "b@dest.example",
                 "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["recipients"][0]["rule"] == 1
    assert j["recipients"][0]["reason"] == "rule=1(sender=*@secure.agency.example)"
    assert j["classification"]["level"] == "RESTRICTED"

    r = _explain(relay, eml, "--from", "a@b.example")
    assert r.returncode == 2 and "--rcpt" in r.stderr
    assert not relay.queue_path.exists() or relay.dump(with_bodies=False) == []


def test_check_reports_policy_errors_with_lines(make_relay):
    relay = make_relay(start=False, overrides={"policy": {"subject_markers": ["[SPECIAL]"]}})
    text = relay.config_path.read_text()
    text += '\n[[policy.rule]]\nheader = "X-A"\nmatch = "(unclosed"\npolicy = "SOS"\n'
    relay.config_path.write_text(text)
    lines = text.splitlines()
    marker_line = next(i for i, l in enumerate(lines, 1) if l.startswith("subject_markers"))
    match_line = next(i for i, l in enumerate(lines, 1) if l.startswith("match ="))
    r = subprocess.run([relay_bin(), "--config", str(relay.config_path), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    out = r.stdout + r.stderr
    assert f"{relay.config_path}:{marker_line}: policy.subject_markers: '[SPECIAL]'" in out, out
    assert f"{relay.config_path}:{match_line}: policy.rule.match: invalid regular expression" in out, out
