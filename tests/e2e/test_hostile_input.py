"""What an adversarial probe found, against the real binary: markings hidden in encoded
words of any charset, a configuration that could lower an unreadable marking, NUL in
message content, and reply texts too long for a reply line.

Each test names the finding it covers; each failed against the relay before the fix
(the Subject cases were queued BES by `rule=default`, `unknown_marking = "bes"` passed
`--check`, the NUL message was queued, the 10 MB banner passed `--check`)."""
import subprocess

import pytest

from relaytest import content_of, crlf, relay_bin, swaks_queue_id
from test_policy import POLICY, RULES, _by_id, _eml, _explain, _send, policy_relay

# The probe's subjects (finding 1: BES before the fix; finding 2: unknown-marking SOS).
# (subject as sent, expected policy, expected reason)
ENCODED_SUBJECTS = [
    ("=?iso-2022-jp?B?GyRCTT07OxsoQiBbU0VDPVNFQ1JFVF0=?=", "HOLD",
     "rule=3(classification=SECRET)"),
    ("=?shift_jis?B?l1yOWiBbU0VDPVNFQ1JFVF0=?=", "HOLD", "rule=3(classification=SECRET)"),
    ("=?euc-jp?B?zb27uyBbU0VDPVNFQ1JFVF0=?=", "HOLD", "rule=3(classification=SECRET)"),
    ("=?gb2312?B?0+jL4yBbU0VDPVNFQ1JFVF0=?=", "HOLD", "rule=3(classification=SECRET)"),
    ("=?gbk?Q?=D3=E8=CB=E3_[SEC=3DSECRET]?=", "HOLD", "rule=3(classification=SECRET)"),
    ("=?big5?B?uXe64iBbU0VDPVNFQ1JFVF0=?=", "HOLD", "rule=3(classification=SECRET)"),
    ("=?euc-kr?B?v7m76iBbU0VDPVNFQ1JFVF0=?=", "HOLD", "rule=3(classification=SECRET)"),
    ("=?koi8-r?B?4sDE1sXUIFtTRUM9U0VDUkVUXQ==?=", "HOLD", "rule=3(classification=SECRET)"),
    ("=?windows-1251?B?wf7k5uXyIFtTRUM9U0VDUkVUXQ==?=", "HOLD",
     "rule=3(classification=SECRET)"),
    ("=?iso-8859-15?B?pHVybyBbU0VDPVNFQ1JFVF0=?=", "HOLD", "rule=3(classification=SECRET)"),
    ("=?utf-16?B?//6ITpd7IABbAFMARQBDAD0AUwBFAEMAUgBFAFQAXQA=?=", "HOLD",
     "rule=3(classification=SECRET)"),
    ("=?iso-8859-2?Q?Rozpo=E8et_[SEC=3DSECRET]?=", "HOLD", "rule=3(classification=SECRET)"),
    ("=?koi8-r?B?79Teo9QgW1JFU1RSSUNURURd?=", "SOS", "rule=2(classification=RESTRICTED)"),
    ("=?iso-2022-jp?B?GyRCSnM5cBsoQiBbUkVTVFJJQ1RFRF0=?=", "SOS",
     "rule=2(classification=RESTRICTED)"),
    # What cannot be decoded is unknown: raised to policy.unknown_marking (SOS here).
    ("=?x-unknown-charset?B?W1NFQz1TRUNSRVRd?=", "SOS", "unknown-marking"),
    ("=??B?W1NFQz1TRUNSRVRd?=", "SOS", "unknown-marking"),
    ("=?utf-8?B?W1NFQz1TRUNSRVRdQ?=", "SOS", "unknown-marking"),
]


def test_encoded_subjects_in_any_charset_keep_their_marking(make_relay, tmp_path):
    relay = policy_relay(make_relay)
    sent = []
    for subject, _, _ in ENCODED_SUBJECTS:
        r = _send(relay, tmp_path, f"From: jane@agency.example\nSubject: {subject}\n\nbody\n")
        assert r.returncode == 0, r.stdout + r.stderr
        sent.append(swaks_queue_id(r.stdout))
    stored = _by_id(relay)
    for qid, (subject, policy, reason) in zip(sent, ENCODED_SUBJECTS):
        [rc] = stored[qid]["recipients"]
        assert (rc["policy"], rc["rule"]) == (policy, reason), subject
        assert stored[qid]["held"] is (policy == "HOLD"), subject


def test_explain_shows_the_decoded_subject_and_why_a_word_is_unread(make_relay, tmp_path):
    relay = make_relay(start=False, overrides={"policy": dict(POLICY)})
    relay.config_path.write_text(relay.config_path.read_text() + RULES)
    eml = _eml(tmp_path, "jp.eml",
               "Subject: =?iso-2022-jp?B?GyRCTT07OxsoQiBbU0VDPVNFQ1JFVF0=?=\n\nx\n")
    r = _explain(relay, eml, "--from", "jane@agency.example", "--rcpt", "bob@dest.example")
    assert r.returncode == 0, r.stderr
    assert "subject (decoded): 予算 [SEC=SECRET]" in r.stdout, r.stdout
    assert "classification: SECRET" in r.stdout, r.stdout
    assert "<bob@dest.example>: policy=HOLD" in r.stdout, r.stdout

    eml = _eml(tmp_path, "unknown.eml", "Subject: =?x-nope?Q?[SEC=3DSECRET]?=\n\nx\n")
    r = _explain(relay, eml, "--from", "jane@agency.example", "--rcpt", "bob@dest.example")
    assert r.returncode == 0, r.stderr
    assert "encoded-word in unknown charset 'x-nope'" in r.stdout, r.stdout
    assert "reason=unknown-marking" in r.stdout, r.stdout


@pytest.mark.parametrize("value", ["bes", "BES", "Bes"])
def test_check_refuses_unknown_marking_bes(make_relay, value):
    """Finding 3: `unknown_marking = "bes"` passed --check and sent garbage markings BES."""
    relay = make_relay(start=False, overrides={"policy": {"unknown_marking": value}})
    lines = relay.config_path.read_text().splitlines()
    line = next(i for i, l in enumerate(lines, 1) if l.startswith("unknown_marking"))
    r = subprocess.run([relay_bin(), "--config", str(relay.config_path), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert (f"{relay.config_path}:{line}: policy.unknown_marking: must be \"SOS\", \"HOLD\" or "
            f"\"REJECT\", not '{value}'") in r.stdout + r.stderr


def test_unknown_marking_reject_refuses_garbage_at_end_of_data(make_relay, tmp_path):
    relay = policy_relay(make_relay, unknown_marking="REJECT")
    with relay.connect() as c:
        c.banner()
        c.ehlo()
        reply = c.send_message("jane@agency.example", ["bob@dest.example"],
                               crlf("X-Protective-Marking: garbage!!!\n\nx\n"))
        assert (reply.code, reply.enhanced()) == (550, "5.7.1"), reply
        assert "protective marking could not be read" in reply.text, reply
    assert relay.dump(with_bodies=False) == []


@pytest.mark.parametrize("verb", ["DATA", "BDAT"])
def test_nul_in_content_is_refused_and_nothing_is_stored(make_relay, verb):
    """Finding 5: "\\r\\n\\0.\\r\\n" was queued and relayed unchanged; a next hop that strips
    NUL would read it as the end of data."""
    relay = make_relay()
    content = b"Subject: nul\r\n\r\nbefore\r\n\x00.\r\nMAIL FROM:<evil@x.example>\r\nafter\r\n"
    with relay.connect() as c:
        c.banner()
        c.ehlo()
        c.expect("MAIL FROM:<a@x.example>", 250)
        c.expect("RCPT TO:<b@y.example>", 250)
        if verb == "DATA":
            c.expect("DATA", 354)
            c.send(content + b".\r\n")
        else:
            c.send(f"BDAT {len(content)} LAST\r\n".encode() + content)
        reply = c.reply()
        assert (reply.code, reply.enhanced()) == (554, "5.6.0"), reply
        # The session is in step: the next transaction works.
        ok = c.send_message("a@x.example", ["b@y.example"], crlf("Subject: ok\n\nfine\n"))
        assert ok.code == 250, ok
    [m] = relay.dump(with_bodies=True)
    assert "\x00" not in m["body"] and "fine" in content_of(m), m["body"]
    relay.wait_log(r"reject: END-OF-DATA from \[127\.0\.0\.1\]: 554 5\.6\.0 NUL in content")


def test_check_refuses_reply_texts_too_long_for_a_reply_line(make_relay):
    """Finding 6: a 10 MB banner passed --check and went out as one 220 line."""
    relay = make_relay(start=False, overrides={"smtp": {"banner": "b" * 10_000_000}})
    text = relay.config_path.read_text()
    text += ('\n[[policy.rule]]\nsender = "@a.example"\npolicy = "REJECT"\n'
             f'reason = "{"r" * 300}"\n')
    relay.config_path.write_text(text)
    lines = text.splitlines()
    banner_line = next(i for i, l in enumerate(lines, 1) if l.startswith("banner"))
    reason_line = next(i for i, l in enumerate(lines, 1) if l.startswith("reason"))
    r = subprocess.run([relay_bin(), "--config", str(relay.config_path), "--check"],
                       capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert (f"{relay.config_path}:{banner_line}: smtp.banner: is 10000000 bytes; at most 200 "
            "fit in an SMTP reply line") in out, out[:2000]
    assert (f"{relay.config_path}:{reason_line}: policy.rule.reason: is 300 bytes; at most 200 "
            "fit in an SMTP reply line") in out, out[:2000]
