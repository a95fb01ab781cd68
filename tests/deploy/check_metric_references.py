#!/usr/bin/env python3
"""check_metric_references.py: every webpush_* metric that the Grafana dashboard and the alert
rules query must be exported by the service.

    check_metric_references.py --dashboard deploy/grafana/webpushd-dashboard.json \
        --rules deploy/prometheus/alerts.yaml --scrape metrics.prom

--scrape is a Prometheus text exposition (the body of GET /metrics). A referenced name is found
when the exposition has a sample of that name, or a `# TYPE` line for it (a family with no series
yet); `X_bucket` needs a histogram family X, `X_sum` and `X_count` a histogram or summary X. A bare
histogram name is an error: it has no series. PromQL functions, keywords, label names and label
values are not metric names and are ignored, and so is every name not starting with `webpush_`.
Exits 1 naming each missing metric and where it is used; 2 on unreadable input.
"""

import argparse
import json
import re
import sys

import yaml

PREFIX = "webpush_"
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
# Grouping and matching modifiers whose parentheses hold label names.
LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
MATCHERS = re.compile(r"\{[^}]*\}")
RANGE = re.compile(r"\[[^\]]*\]")


def metric_names(expr):
    """Returns the webpush_* metric names an expression (PromQL or a Grafana query) references."""
    text = STRING.sub(" ", expr)
    text = MATCHERS.sub(" ", text)  # label matchers: label names, values, Grafana variables
    text = RANGE.sub(" ", text)  # [5m], [$__rate_interval], [15m:1m]
    text = LABEL_LIST.sub(" ", text)
    # label_values(metric, label) and friends: the second argument is a label.
    text = re.sub(r"\b(label_values)\s*\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,[^)]*\)", r" \2 ", text)
    return {m for m in IDENT.findall(text) if m.startswith(PREFIX)}


def dashboard_exprs(path):
    """Yields (where, expression) for every query of a Grafana dashboard JSON."""
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)

    def walk(node, where):
        if isinstance(node, dict):
            title = node.get("title") or where
            for key, value in node.items():
                if key in ("expr", "definition") and isinstance(value, str):
                    yield f"dashboard panel '{title}'", value
                elif key == "query" and isinstance(value, str):
                    yield f"dashboard variable '{node.get('name', title)}'", value
                elif key == "query" and isinstance(value, dict):
                    q = value.get("query")
                    if isinstance(q, str):
                        yield f"dashboard variable '{node.get('name', title)}'", q
                else:
                    yield from walk(value, title)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, where)

    yield from walk(dash, "dashboard")


def rule_exprs(path):
    """Yields (where, expression) for every rule of a Prometheus rule file."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    groups = doc.get("groups") if isinstance(doc, dict) else None
    if groups is None and isinstance(doc, dict):  # a PrometheusRule
        groups = (doc.get("spec") or {}).get("groups")
    for group in groups or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            yield f"rule '{name}'", str(rule.get("expr", ""))


def read_exposition(path):
    """Returns (sample names, {family: type}) of a Prometheus text exposition."""
    samples, types = set(), {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split()
                if len(parts) >= 4 and parts[1] == "TYPE":
                    types[parts[2]] = parts[3]
                continue
            m = IDENT.match(line)
            if m:
                samples.add(m.group(0))
    return samples, types


def resolve(name, samples, types):
    """Returns None when `name` is exported, else why not."""
    if name in samples:
        return None
    if name in types:
        if types[name] in ("histogram", "summary"):
            return f"{name} is a {types[name]}: query {name}_bucket, _sum or _count"
        return None
    for suffix, kinds in (("_bucket", ("histogram",)), ("_sum", ("histogram", "summary")),
                          ("_count", ("histogram", "summary"))):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) in kinds:
            return None
    return f"{name} is not exported"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dashboard", action="append", default=[], help="Grafana dashboard JSON")
    parser.add_argument("--rules", action="append", default=[], help="Prometheus rule file")
    parser.add_argument("--scrape", required=True, help="Prometheus text exposition (GET /metrics)")
    args = parser.parse_args()
    if not args.dashboard and not args.rules:
        parser.error("give at least one --dashboard or --rules")
    try:
        samples, types = read_exposition(args.scrape)
        exprs = [e for d in args.dashboard for e in dashboard_exprs(d)]
        exprs += [e for r in args.rules for e in rule_exprs(r)]
    except (OSError, ValueError, yaml.YAMLError) as e:
        print(f"check_metric_references: {e}", file=sys.stderr)
        return 2
    used = {}
    for where, expr in exprs:
        for name in metric_names(expr):
            used.setdefault(name, []).append(where)
    if not used:
        print("FAIL: no webpush_* metric referenced: nothing was checked")
        return 1
    problems = 0
    for name in sorted(used):
        why = resolve(name, samples, types)
        if why:
            problems += 1
            places = sorted(set(used[name]))
            print(f"FAIL: {why} (used by {', '.join(places)})")
    if problems:
        print(f"check_metric_references: {problems} of {len(used)} referenced metrics missing "
              f"from {args.scrape}")
        return 1
    print(f"check_metric_references: all {len(used)} referenced metrics are in {args.scrape} "
          f"({len(exprs)} expressions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
