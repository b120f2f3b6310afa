#!/usr/bin/env python3
"""queue_probe.py - accept latency, one message at a time (bench/queue-scale.sh).

Sends messages one by one over one SMTP session and prints, per message, the seconds from
MAIL FROM to the 250 after DATA, and the wall-clock time it ended (Unix seconds). Stops after --count messages, or, with --until FILE, once
FILE exists (and at least --count were sent). Loopback only.

  queue_probe.py --port P [--count N] [--until FILE] [--rcpt ADDR] [--size BYTES]
"""
import argparse
import os
import smtplib
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--until", default="")
    ap.add_argument("--rcpt", default="probe@bench-dest.example")
    ap.add_argument("--size", type=int, default=1024)
    a = ap.parse_args()
    body = ("From: probe@agency.gov.example\r\nTo: " + a.rcpt + "\r\nSubject: probe\r\n\r\n"
            + ("x" * 76 + "\r\n") * max(1, a.size // 78))
    s = smtplib.SMTP("127.0.0.1", a.port, timeout=60)
    s.ehlo("probe.bench.example")
    n = 0
    while True:
        if n >= a.count and (not a.until or os.path.exists(a.until)):
            break
        t0 = time.perf_counter()
        s.sendmail("probe@agency.gov.example", [a.rcpt], body)
        # The wall-clock end beside each latency: slow ones can be set against the relay log.
        print(f"{time.perf_counter() - t0:.6f} {time.time():.6f}", flush=True)
        n += 1
    s.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
