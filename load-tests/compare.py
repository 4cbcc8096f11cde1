#!/usr/bin/env python3
"""Compare two benchmark results: what a change bought.

  load-tests/compare.py results/bench-A.json results/bench-B.json [--peer isoproxy]

Prints, for every row present in both files, requests/s and CPU time per
request before and after and the change in percent. Rows that failed in
either file are listed as such.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h  # noqa: E402


def rows_of(path):
    with open(path) as f:
        doc = json.load(f)
    return {(r["scenario"], r["peer"], r["size"]): r for r in doc["rows"]}, doc


def pct(a, b):
    if a is None or b is None or not a:
        return "-"
    return f"{(b - a) * 100 / a:+.1f}%"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--peer", default="", help="only rows of this peer")
    a = ap.parse_args()
    old, old_doc = rows_of(a.before)
    new, new_doc = rows_of(a.after)
    head = ["scenario / peer", "size", "req/s before", "req/s after", "change", "CPU us/req before",
            "CPU us/req after", "change"]
    body = []
    for key in [k for k in new if k in old]:
        if a.peer and key[1] != a.peer:
            continue
        o, n = old[key], new[key]
        label = f"{key[0]} / {key[1]}"
        if o.get("error") or n.get("error"):
            body.append([label, key[2], "ERROR" if o.get("error") else f"{o['rps']:.0f}",
                         "ERROR" if n.get("error") else f"{n['rps']:.0f}", "-", "-", "-", "-"])
            continue
        body.append([label, key[2], f"{o['rps']:.0f}", f"{n['rps']:.0f}", pct(o["rps"], n["rps"]),
                     f"{o['cpu_us_per_req']:.1f}", f"{n['cpu_us_per_req']:.1f}",
                     pct(o["cpu_us_per_req"], n["cpu_us_per_req"])])
    for name, doc in (("before", old_doc), ("after", new_doc)):
        v = doc.get("versions", {})
        print(f"{name}: {doc.get('started_utc')} {doc.get('mode')} isoproxy {v.get('isoproxy_commit', '?')}, "
              f"wrk {doc['wrk']}")
    print()
    print(h.render_table(head, body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
