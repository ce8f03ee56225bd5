#!/usr/bin/env python3
"""Translate an engine-neutral workload spec (../workloads/*.json or the output
of ../gen_polling_spec.py) into a Node-RED flows.json.
  webhook automations: http in -> function(transform) -> http request(POST sink)
                       sync:  -> change(reset payload/headers) -> http response   (ack after delivery)
                       async: http in -> http response directly (ack before delivery)
  poll_json automations: inject(repeat interval) -> http request(GET, parsed JSON)
                       -> function(dedupe by id in node context + transform, 1 msg per new item)
                       -> http request(POST sink)
usage: gen_flows.py SPEC.json OUT_flows.json [--mode sync|async] [--keepalive]
"""
import argparse, json
ap = argparse.ArgumentParser()
ap.add_argument("spec"); ap.add_argument("out")
ap.add_argument("--mode", choices=["sync", "async"], default="sync")
ap.add_argument("--keepalive", action="store_true", help="set 'persist' (connection keep-alive) on http request nodes")
a = ap.parse_args()
spec = json.load(open(a.spec))
tab = {"id": "benchtab", "type": "tab", "label": "bench", "disabled": False, "info": ""}
nodes = [tab]
def nid(prefix, i): return f"{prefix}{i:06d}"
def http_req(id_, method, url, ret, wires):
    return {"id": id_, "type": "http request", "z": tab["id"], "name": "", "method": method, "ret": ret,
            "paytoqs": "ignore", "url": url, "tls": "", "persist": bool(a.keepalive), "proxy": "",
            "insecureHTTPParser": False, "authType": "", "senderr": False, "headers": [],
            "x": 500, "y": 40, "wires": wires}
for i, au in enumerate(spec["automations"]):
    tr, re_ = au["trigger"], au["reaction"]
    assert re_["type"] == "http_post"
    if tr["type"] == "webhook":
        fn = ("msg.payload = { message: 'New item: ' + msg.payload.title };\nreturn msg;")
        post_wires = [[nid("c", i)]] if a.mode == "sync" else [[]]
        in_wires = [nid("f", i)] + ([nid("r", i)] if a.mode == "async" else [])
        nodes += [
            {"id": nid("h", i), "type": "http in", "z": tab["id"], "name": au["id"], "url": tr["path"],
             "method": tr["method"].lower(), "upload": False, "swaggerDoc": "", "x": 100, "y": 40, "wires": [in_wires]},
            {"id": nid("f", i), "type": "function", "z": tab["id"], "name": "transform", "func": fn, "outputs": 1,
             "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [], "x": 300, "y": 40,
             "wires": [[nid("p", i)]]},
            http_req(nid("p", i), "POST", re_["url"], "txt", post_wires),
            {"id": nid("r", i), "type": "http response", "z": tab["id"], "name": "", "statusCode": "200",
             "headers": {}, "x": 900, "y": 40, "wires": []},
        ]
        if a.mode == "sync":
            nodes.append({"id": nid("c", i), "type": "change", "z": tab["id"], "name": "ack",
                          "rules": [{"t": "delete", "p": "headers", "pt": "msg"},
                                    {"t": "set", "p": "payload", "pt": "msg", "to": "{\"ok\":true}", "tot": "json"}],
                          "action": "", "property": "", "from": "", "to": "", "reg": False, "x": 700, "y": 40,
                          "wires": [[nid("r", i)]]})
    elif tr["type"] == "poll_json":
        fn = ("const items = (msg.payload && msg.payload.items) || [];\n"
              "let seen = context.get('seen');\n"
              "const keep = {};\n"
              "for (const it of items) keep[it.id] = 1;\n"
              "if (seen === undefined) { context.set('seen', keep); return null; }\n"
              "const out = [];\n"
              "for (const it of items) if (!seen[it.id]) out.push({ payload: { message: 'New item: ' + it.title } });\n"
              "context.set('seen', keep);\n"
              "return [out];")
        y = 40 + (i % 1000) * 40
        nodes += [
            {"id": nid("i", i), "type": "inject", "z": tab["id"], "name": au["id"], "props": [{"p": "payload"}],
             "repeat": str(tr["interval_s"]), "crontab": "", "once": True, "onceDelay": "0.5", "topic": "",
             "payload": "", "payloadType": "date", "x": 100, "y": y, "wires": [[nid("g", i)]]},
            http_req(nid("g", i), "GET", tr["url"], "obj", [[nid("d", i)]]),
            {"id": nid("d", i), "type": "function", "z": tab["id"], "name": "dedupe+transform", "func": fn,
             "outputs": 1, "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [], "x": 700, "y": y,
             "wires": [[nid("p", i)]]},
            http_req(nid("p", i), "POST", re_["url"], "txt", [[]]),
        ]
    else:
        raise SystemExit(f"unsupported trigger {tr['type']}")
json.dump(nodes, open(a.out, "w"))
print(f"wrote {a.out}: {len(nodes)} nodes")
