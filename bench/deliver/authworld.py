"""authworld.py - the DNS (and MTA-STS policy host) of bench/deliver.sh's dane and sts cases
(run by bench/deliver/auth.sh, not by hand).

Usage: authworld.py dane|sts WORKDIR DOMAIN MX_HOST SINK_ADDR SINK_PORT SINK_CERT [STS_ADDR]

Publishes DOMAIN MX 10 MX_HOST and MX_HOST A SINK_ADDR in a zone served by nsd behind a
validating unbound (tests/e2e/dnssec_zone.py's DnssecWorld: the same zone signer and
resolver setup as the e2e suite), and then
  dane: signs the zone and adds _SINK_PORT._tcp.MX_HOST TLSA 3 1 1 for SINK_CERT;
  sts:  leaves the zone unsigned and adds _mta-sts.DOMAIN TXT "v=STSv1; id=..." and
        mta-sts.DOMAIN A STS_ADDR, where tests/e2e/sts_server.py's StsServer answers
        https://mta-sts.DOMAIN/.well-known/mta-sts.txt (port 443: needs root) with an
        enforce policy for MX_HOST; its certificate comes from the e2e TestCA, whose
        certificate this script names so that the relay can trust it.
TTLs are long (3600 s, negative answers too), so that every answer stays in the relay's
cache for the whole measurement. Once everything answers, WORKDIR/ready holds
"dns=HOST:PORT ca=PATH" (ca=- for dane), written whole. On SIGTERM or SIGINT it writes
WORKDIR/stats ("policy_requests=N dns_queries=M": policy fetches, - for dane; queries
unbound answered after "ready", from its query log), stops the servers and exits 0. Any
failure to start exits 1 with the programs' logs on stderr.
"""
import os
import re
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))

from dnssec_zone import DnssecWorld  # noqa: E402

TTL = 3600
POLICY_ID = "bench1"


def write_whole(path: Path, text: str):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.rename(tmp, path)


def logged_queries(world: DnssecWorld) -> int:
    """Client queries in unbound's log so far (log-queries: "info: ADDR NAME TYPE IN")."""
    log = world.workdir / "unbound.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return len(re.findall(r"info: \S+ \S+ \S+ IN$", text, re.M))


def main() -> int:
    if len(sys.argv) not in (8, 9) or sys.argv[1] not in ("dane", "sts"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, workdir, domain, mx, sink_addr, sink_port, cert = sys.argv[1:8]
    sts_addr = sys.argv[8] if len(sys.argv) == 9 else None
    if kind == "sts" and not sts_addr:
        print("authworld.py: sts needs STS_ADDR", file=sys.stderr)
        return 2
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)

    # SIGTERM before the servers are up must still stop them: turn it into an exception.
    def stop_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_signal)
    signal.signal(signal.SIGINT, stop_signal)

    world = DnssecWorld(work / "dns")
    web = None
    ca_path = "-"
    queries_at_ready = None
    try:
        zone = world.zone(domain, signed=(kind == "dane"))
        zone.ttl = zone.negative_ttl = TTL
        zone.add_mx(domain, 10, mx)
        zone.add_a(mx, sink_addr)
        if kind == "dane":
            zone.add_tlsa_for_cert(mx, cert, port=int(sink_port))
        else:
            from pki import TestCA  # noqa: E402
            from sts_server import StsServer  # noqa: E402  (the MTA-STS fetcher's test host)

            ca = TestCA(work / "pki", name="secmx bench policy-host CA")
            ca_path = str(ca.cert)
            web = StsServer(work / "sts", ca, host=sts_addr)
            web.serve(domain, f"version: STSv1\nmode: enforce\nmx: {mx}\nmax_age: 86400\n")
            zone.add_record(f"_mta-sts.{domain}", "TXT", f'"v=STSv1; id={POLICY_ID};"')
            zone.add_a(f"mta-sts.{domain}", sts_addr)
            web.start()
        world.start()
        # What the relay will ask, answered as the case needs it (AD only where signed).
        checks = [(domain, "MX"), (mx, "A")]
        checks += [(f"_{sink_port}._tcp.{mx}", "TLSA")] if kind == "dane" else \
            [(f"_mta-sts.{domain}", "TXT"), (f"mta-sts.{domain}", "A")]
        for name, rtype in checks:
            rcode, n, ad = world.query(name, rtype)
            if rcode != "NOERROR" or n < 1 or ad != (kind == "dane"):
                raise AssertionError(f"{name} {rtype}: {rcode}, {n} answers, AD={ad}\n{world.log()}")
        queries_at_ready = logged_queries(world)
        write_whole(work / "ready", f"dns={world.address} ca={ca_path}\n")
        signal.pause()
    except KeyboardInterrupt:
        pass
    except AssertionError as e:
        print(f"authworld.py: {e}", file=sys.stderr)
        return 1
    finally:
        requests = web.requests(domain) if web is not None else "-"
        queries = "-" if queries_at_ready is None else logged_queries(world) - queries_at_ready
        write_whole(work / "stats", f"policy_requests={requests} dns_queries={queries}\n")
        if web is not None:
            web.stop()
        world.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
