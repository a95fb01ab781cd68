#!/usr/bin/env python3
"""The whole service against the Node web-push package, one fan-out each, side by side.

Starts a private redis-server (append-only, fsync every second, as in production) and the test
push service (HTTP/2 and HTTP/1.1 over TLS; it checks every VAPID token and, with
--decrypt-every-n, decrypts every n-th body so that it takes less of the shared CPU), with N
browser-like subscriptions. Then, alternating for --repetitions rounds:

  ours: webpushd (one replica, the release build, the embedded defaults plus one tenant) gets one
        job of N targets and a 1 KB payload from `webpushctl send --wait` (UploadJob); measured
        from the submission until the job is done. CPU = webpushd + redis-server (the dispatcher
        system); the caller's own CPU (webpushctl reading the file and uploading) is shown apart.
  node: bench/node/fanout_bench.js sends the same payload to the same N subscriptions with
        web-push's sendNotification (keep-alive agent, 100 requests in flight). CPU = the node
        process (all its threads).

It prints messages per second, CPU microseconds per message and the messages per CPU-second
ratio (the issue's bar: ours >= 20x node), and latency percentiles measured the same way for
both: from the start of the fan-out to each message's final answer.

Usage: bench/run_service_comparison.py [--build build] [--targets 200000] [--repetitions 3]
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "push.test.example"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU of a running process (all threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_for(path, pattern, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path) as f:
                m = re.search(pattern, f.read(), re.M)
                if m:
                    return m
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    sys.exit(f"{what} did not start; its log:\n" + open(path).read())


def run_ours(args, work, api_port, token_file, payload_file, subs, webpushd, redis):
    before = {"webpushd": cpu_seconds(webpushd.pid), "redis": cpu_seconds(redis.pid)}
    start = time.time()
    ctl = subprocess.run(
        [f"{args.build}/dispatcher/webpushctl", "send", "--server", f"127.0.0.1:{api_port}",
         "--token-file", token_file, "--subscriptions", subs, "--payload-file", payload_file,
         "--ttl", "3600", "--wait"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.time() - start
    if ctl.returncode != 0:
        sys.exit("webpushctl send failed:\n" + ctl.stdout + ctl.stderr)
    after = {"webpushd": cpu_seconds(webpushd.pid), "redis": cpu_seconds(redis.pid)}
    job = re.search(r"job (\S+)", ctl.stdout + ctl.stderr).group(1)
    status = subprocess.run(
        [f"{args.build}/dispatcher/webpushctl", "status", "--server", f"127.0.0.1:{api_port}",
         "--token-file", token_file, "--json", job],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    info = json.loads(status.stdout)
    counters = info.get("counters", {})
    latency = info.get("latency", {})
    delivered = int(counters.get("delivered", 0))
    cpu = (after["webpushd"] - before["webpushd"]) + (after["redis"] - before["redis"])
    return {
        "messages": args.targets,
        "delivered": delivered,
        "wall_s": wall,
        "msgs_per_s": args.targets / wall,
        "cpu_s": cpu,
        "cpu_us_per_msg": cpu * 1e6 / args.targets,
        "webpushd_cpu_s": after["webpushd"] - before["webpushd"],
        "redis_cpu_s": after["redis"] - before["redis"],
        "p50_ms": int(latency.get("p50_ms", 0)),
        "p90_ms": int(latency.get("p90_ms", 0)),
        "p99_ms": int(latency.get("p99_ms", 0)),
    }


def run_node(args, subs, ca, vapid):
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=ca)
    out = subprocess.run(
        ["node", f"{ROOT}/bench/node/fanout_bench.js", "--subscriptions", subs,
         "--payload-size", str(args.payload_size), "--vapid-public-key", vapid["public_key"],
         "--vapid-private-key", vapid["private_key"], "--subject", "mailto:ops@example.com",
         "--ttl", "3600", "--concurrency", str(args.node_concurrency)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if out.returncode != 0:
        sys.exit("fanout_bench.js failed:\n" + out.stdout + out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["delivered"] != r["messages"]:
        sys.exit(f"node delivered {r['delivered']} of {r['messages']}: {r['statuses']} "
                 f"{r['errors']}")
    since_start = r["latency_ms"]["since_start"]
    # The same keys as run_ours; CPU from cpu_seconds (cpu_us_per_message is rounded).
    return {
        "messages": r["messages"],
        "delivered": r["delivered"],
        "wall_s": r["wall_seconds"],
        "msgs_per_s": r["messages"] / r["wall_seconds"],
        "cpu_s": r["cpu_seconds"],
        "cpu_us_per_msg": r["cpu_seconds"] * 1e6 / r["messages"],
        "start_p50_ms": since_start["p50"],
        "start_p90_ms": since_start["p90"],
        "start_p99_ms": since_start["p99"],
        "node_version": r["node_version"],
        "web_push_version": r["web_push_version"],
    }


def median(rows, key):
    return statistics.median(row[key] for row in rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=f"{ROOT}/build")
    p.add_argument("--targets", type=int, default=200000)
    p.add_argument("--payload-size", type=int, default=1024)
    p.add_argument("--repetitions", type=int, default=3)
    p.add_argument("--node-concurrency", type=int, default=100)
    p.add_argument("--decrypt-every-n", type=int, default=100)
    p.add_argument("--push-threads", type=int, default=1)
    p.add_argument("--skip-node", action="store_true", help="only the service (smoke runs)")
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="webpush-compare-")
    procs = []
    try:
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", work,
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
            stdout=open(f"{work}/redis.log", "w"), stderr=subprocess.STDOUT)
        procs.append(redis)
        wait_for(f"{work}/redis.log", "Ready to accept connections", "redis-server")

        subs = f"{work}/subscriptions.jsonl"
        push_bin = f"{args.build}/tests/support/push_service/webpush_test_push_service"
        push_help = subprocess.run([push_bin, "--help"], stdout=subprocess.PIPE, text=True).stdout
        push_cmd = [push_bin, "--port", "0", "--threads", str(args.push_threads),
                    "--subscriptions", str(args.targets), "--subscriptions-out", subs,
                    "--ca-out", f"{work}/ca.pem"]
        if "--decrypt-every-n" in push_help:
            push_cmd += ["--decrypt-every-n", str(args.decrypt_every_n)]
        if "--no-record" in push_help:
            push_cmd += ["--no-record"]
        push = subprocess.Popen(push_cmd, stdout=open(f"{work}/push.log", "w"),
                                stderr=subprocess.STDOUT)
        procs.append(push)
        push_port = wait_for(f"{work}/push.log", r"^listening on 127\.0\.0\.1:(\d+)",
                             "the push service", timeout=300).group(1)

        vapid = json.loads(subprocess.run(
            [f"{args.build}/dispatcher/webpushctl", "vapid", "keygen", "--json"],
            stdout=subprocess.PIPE, text=True, check=True).stdout)
        with open(f"{work}/vapid.key", "w") as f:
            f.write(vapid["private_key"] + "\n")
        token_file = f"{work}/token"
        with open(token_file, "w") as f:
            f.write("bench-token-0123456789abcdef\n")
        payload_file = f"{work}/payload.bin"
        with open(payload_file, "wb") as f:
            f.write(os.urandom(args.payload_size))
        with open(f"{work}/webpushd.yaml", "w") as f:
            f.write(f"""server:
  listen: 127.0.0.1:0
metrics:
  listen: ""
queue:
  redis:
    port: {redis_port}
push:
  ca_file: {work}/ca.pem
  allow_hosts: ["{HOST}:{push_port}"]
  resolve: ["{HOST}:{push_port}:127.0.0.1"]
tenants:
  - name: bench
    token_file: {token_file}
    vapid:
      subject: mailto:ops@example.com
      keys:
        - id: main
          private_key_file: {work}/vapid.key
    quotas:
      messages_per_second: 10000000
      burst: 100000000
""")
        webpushd = subprocess.Popen(
            [f"{args.build}/dispatcher/webpushd", "--config", f"{work}/webpushd.yaml"],
            stdout=open(f"{work}/webpushd.log", "w"), stderr=subprocess.STDOUT)
        procs.append(webpushd)
        api_port = wait_for(f"{work}/webpushd.log", r"serving gRPC on port (\d+)",
                            "webpushd").group(1)
        crypto_path = re.search(r"crypto_path=(\S+)", open(f"{work}/webpushd.log").read())

        load = os.getloadavg()
        print(f"date {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, "
              f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        print(f"{args.targets} targets, {args.payload_size}-byte payload, push service "
              f"{args.push_threads} thread(s), decrypting every {args.decrypt_every_n}th body; "
              f"webpushd P-256 path: {crypto_path.group(1) if crypto_path else '?'}")
        ours, node = [], []
        for rep in range(args.repetitions):
            ours.append(run_ours(args, work, api_port, token_file, payload_file, subs,
                                 webpushd, redis))
            print(f"  round {rep + 1}: ours {ours[-1]['msgs_per_s']:,.0f} msg/s, "
                  f"{ours[-1]['cpu_us_per_msg']:.1f} CPU us/msg", flush=True)
            if not args.skip_node:
                node.append(run_node(args, subs, f"{work}/ca.pem", vapid))
                print(f"  round {rep + 1}: node {node[-1]['msgs_per_s']:,.0f} msg/s, "
                      f"{node[-1]['cpu_us_per_msg']:.1f} CPU us/msg", flush=True)
        for o in ours:
            if o["delivered"] != args.targets:
                sys.exit(f"ours delivered {o['delivered']} of {args.targets}")
        print()
        print("| | messages/s | CPU µs/message | messages per CPU-second | latency p50 / p90 / p99 "
              "(ms, from the start of the fan-out) |")
        print("|---|--:|--:|--:|--:|")
        o_cpu = median(ours, "cpu_us_per_msg")
        print(f"| webpushd + redis | {median(ours, 'msgs_per_s'):,.0f} | {o_cpu:.1f} | "
              f"{1e6 / o_cpu:,.0f} | {median(ours, 'p50_ms'):.0f} / {median(ours, 'p90_ms'):.0f}"
              f" / {median(ours, 'p99_ms'):.0f} |")
        if node:
            n_cpu = median(node, "cpu_us_per_msg")
            print(f"| node web-push | {median(node, 'msgs_per_s'):,.0f} | {n_cpu:.1f} | "
                  f"{1e6 / n_cpu:,.0f} | {median(node, 'start_p50_ms'):.0f} / "
                  f"{median(node, 'start_p90_ms'):.0f} / {median(node, 'start_p99_ms'):.0f} |")
            print()
            print(f"ours / node, messages per CPU-second: {n_cpu / o_cpu:.1f}x (bar: 20x); "
                  f"messages per second: "
                  f"{median(ours, 'msgs_per_s') / median(node, 'msgs_per_s'):.1f}x")
        print(f"medians of {args.repetitions} rounds; webpushd CPU "
              f"{median(ours, 'webpushd_cpu_s'):.2f} s and redis {median(ours, 'redis_cpu_s'):.2f} s "
              f"per job")
        with open(f"{ROOT}/build/service-comparison.json" if os.path.isdir(f"{ROOT}/build")
                  else f"{work}/result.json", "w") as f:
            json.dump({"ours": ours, "node": node}, f, indent=1)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
