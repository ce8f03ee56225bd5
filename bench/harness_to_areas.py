#!/usr/bin/env python3
"""Turns a workload spec of the load harness (bench/harness/workloads/webhook.json, or the
output of bench/harness/gen_polling_spec.py) into an Area area file (a JSON list of areas).

usage: harness_to_areas.py SPEC.json > areas.json
"""
import json
import re
import sys


def template(text):
    # The harness writes {{title}}; Area's templates accept that too, normalise the spacing.
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", r"{{ \1 }}", text)


def reaction(spec):
    r = spec["reaction"]
    if r["type"] != "http_post":
        sys.exit(f"unsupported reaction type {r['type']}")
    body = {k: template(v) if isinstance(v, str) else v for k, v in r["json_body"].items()}
    return {
        "service": "http",
        "id": "request",
        "params": {"method": "POST", "url": r["url"], "body": json.dumps(body)},
    }


def area(spec):
    trigger = spec["trigger"]
    if trigger["type"] == "webhook":
        action = {"service": "webhook", "id": "received", "params": {}}
        interval = None
    elif trigger["type"] == "poll_json":
        action = {
            "service": "http",
            "id": "new_json_items",
            "params": {"url": trigger["url"], "items_path": trigger["items_path"], "id_field": trigger["item_id_field"]},
        }
        interval = max(1, int(round(trigger["interval_s"])))
    else:
        sys.exit(f"unsupported trigger type {trigger['type']}")
    out = {"name": spec["id"], "action": action, "reactions": [reaction(spec)], "allow_private_network": True}
    if interval:
        out["interval_secs"] = interval
    return out


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    json.dump([area(a) for a in spec["automations"]], sys.stdout)


if __name__ == "__main__":
    main()
