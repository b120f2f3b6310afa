"""sinkmon.py - bench/deliver.sh's sink monitor (run by e2e_case in bench/deliver/measure.sh).

Usage: sinkmon.py SINK_OUTPUT TARGET STALL_SECONDS RESULT_FILE
Follows an `smtp-sink -c` (or tls-sink) output file (counters separated by CR) and writes
"status t_first t_target mesg sess" to RESULT_FILE when the message counter reaches TARGET
(status done), or when it has not moved for STALL seconds (status stall). The result file
appears whole (written aside, then renamed).
"""
import re, sys, time
path, target, stall, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rx = re.compile(rb"sess=(\d+) quit=\d+ mesg=(\d+)")
sess = mesg = 0
t_first = 0.0
last_change = time.time()
tail = b""
with open(path, "rb") as f:
    while True:
        data = f.read()
        if data:
            m = rx.findall(tail + data)
            tail = (tail + data)[-64:]
            if m:
                s, n = int(m[-1][0]), int(m[-1][1])
                if n != mesg or s != sess:
                    last_change = time.time()
                if n > 0 and mesg == 0:
                    t_first = time.time()
                sess, mesg = s, n
                if mesg >= target:
                    status = "done"
                    break
        elif time.time() - last_change > stall:
            status = "stall"
            break
        time.sleep(0.005)
with open(out + ".tmp", "w") as o:
    o.write(f"{status} {t_first:.3f} {time.time():.3f} {mesg} {sess}\n")
import os
os.rename(out + ".tmp", out)
