#!/usr/bin/env python3
"""The push client against h2load, side by side, against the same nghttpd in one run.

Makes a throw-away CA and server certificate, starts nghttpd (Debian's nghttp2-server) on a free
loopback port, then for each body size (1 KB, 4 KB) and connection count (1, 2, 4) runs h2load
(nghttp2-client) with 100 concurrent streams per connection, then webpush_push_bench with the
same settings, and prints requests per second and per CPU second of the client process for both.
The issue's bar is on the per-CPU figure: ours >= 70% of h2load's.

Usage: bench/run_push_comparison.py [--bench build/bench/webpush_push_bench]
                                    [--requests 40000] [--repetitions 3]
"""
import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "push.test.example"
TOKEN = "subscription-token-0123456789abcdef"
# Same header the benchmark binary sends (a realistic VAPID header size).
AUTHORIZATION = (
    "vapid t=eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2gudGVzdC5leGFtcGxlOj"
    "E4NDQzIiwiZXhwIjoxNzk0NDQ0NDQ0LCJzdWIiOiJtYWlsdG86b3BzQGV4YW1wbGUuY29tIn0.MEUCIQDx5KZ3tVRl"
    "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG9mcmVkcGx1Z3h5enp5, k=BC38Hg7sH5D8zk3Lf"
    "hTbwV3RGwTeeMjSf39cXAvAyjQz7kCqZTZT1c4wBd6ke1eyWS8qDVh6vPEvAoLhJBl7Sg8")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kw).stdout


def make_certificates(d):
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "2",
         "-subj", "/CN=webpush bench CA"])
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", f"{d}/leaf.key", "-out", f"{d}/leaf.csr", "-subj", f"/CN={HOST}"])
    with open(f"{d}/ext.cnf", "w") as f:
        f.write(f"subjectAltName=DNS:{HOST},IP:127.0.0.1\n")
    run(["openssl", "x509", "-req", "-in", f"{d}/leaf.csr", "-CA", f"{d}/ca.pem",
         "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-out", f"{d}/leaf.pem", "-days", "2",
         "-extfile", f"{d}/ext.cnf"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def h2load(port, body_file, connections, requests):
    before = children_cpu()
    out = run(["h2load", "-n", str(requests), "-c", str(connections), "-m", "100", "-t", "1",
               "-d", body_file, "-H", "ttl: 60", "-H", "content-encoding: aes128gcm",
               "-H", "content-type: application/octet-stream",
               "-H", f"authorization: {AUTHORIZATION}",
               f"https://127.0.0.1:{port}/push/{TOKEN}"])
    cpu = children_cpu() - before
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    ok = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
    if not m or not ok or int(ok.group(1)) != requests:
        sys.exit("h2load did not complete every request:\n" + out)
    return float(m.group(3)), requests / cpu


def ours(bench, port, ca, body, connections, min_time):
    env = dict(os.environ, WEBPUSH_PUSH_BENCH_TARGET=f"{HOST}:{port}:127.0.0.1",
               WEBPUSH_PUSH_BENCH_CA=ca)
    out = run([bench, f"--benchmark_filter=BM_PushClient/body:{body}/connections:{connections}/",
               f"--benchmark_min_time={min_time}", "--benchmark_format=json"], env=env)
    data = json.loads(out[out.index("{"):])
    b = data["benchmarks"][0]
    if "error_message" in b:
        sys.exit("webpush_push_bench: " + b["error_message"])
    return b["items_per_second"], b["requests_per_cpu_second"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", default="build/bench/webpush_push_bench")
    p.add_argument("--requests", type=int, default=40000)
    p.add_argument("--repetitions", type=int, default=3)
    p.add_argument("--min-time", type=float, default=2.0)
    args = p.parse_args()
    for tool in ("nghttpd", "h2load", "openssl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install nghttp2-server nghttp2-client openssl")
    d = tempfile.mkdtemp(prefix="webpush-push-bench-")
    make_certificates(d)
    os.makedirs(f"{d}/htdocs/push")
    with open(f"{d}/htdocs/push/{TOKEN}", "w") as f:
        f.write("ok\n")
    port = free_port()
    server = subprocess.Popen(["nghttpd", "-d", f"{d}/htdocs", str(port), f"{d}/leaf.key",
                               f"{d}/leaf.pem"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nghttpd on 127.0.0.1:{port}, "
              f"medians of {args.repetitions} alternating runs; 100 streams per connection")
        print(f"{'body':>5} {'conns':>5} | {'h2load req/s':>12} {'req/CPU-s':>10} | "
              f"{'ours req/s':>10} {'req/CPU-s':>10} | {'per-CPU ratio':>13} {'wall ratio':>10}")
        worst = None
        for body in (1024, 4096):
            body_file = f"{d}/body{body}.bin"
            with open(body_file, "wb") as f:
                f.write(os.urandom(body))
            for conns in (1, 2, 4):
                h_rate, h_cpu, o_rate, o_cpu = [], [], [], []
                for _ in range(args.repetitions):
                    r, c = h2load(port, body_file, conns, args.requests)
                    h_rate.append(r)
                    h_cpu.append(c)
                    r, c = ours(args.bench, port, f"{d}/ca.pem", body, conns, args.min_time)
                    o_rate.append(r)
                    o_cpu.append(c)
                hr, hc = statistics.median(h_rate), statistics.median(h_cpu)
                orr, oc = statistics.median(o_rate), statistics.median(o_cpu)
                ratio = oc / hc
                worst = ratio if worst is None else min(worst, ratio)
                print(f"{body:>5} {conns:>5} | {hr:>12.0f} {hc:>10.0f} | {orr:>10.0f} {oc:>10.0f} | "
                      f"{ratio:>12.0%} {orr / hr:>10.0%}")
        print(f"# lowest per-CPU ratio: {worst:.0%} (bar: 70%)")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
