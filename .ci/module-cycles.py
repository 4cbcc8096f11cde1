#!/usr/bin/env python3
"""Fail when the top-level modules of a crate import each other in a cycle.

A top-level module is a folder (`src/pipeline/`) or a file (`src/error.rs`)
under the crate's `src/`. An edge A -> B is any `crate::B` path written in a
file of A. Usage: module-cycles.py CRATE_SRC [CRATE_SRC...]
"""
import os
import re
import sys

PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def graph(src):
    edges = {}
    for root, _dirs, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)
            top = rel.split(os.sep)[0]
            top = top[:-3] if top.endswith(".rs") else top
            if top in ("main", "lib"):
                continue
            text = open(path, encoding="utf-8").read()
            # Doc comments may name other modules; only code counts.
            code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("//"))
            for m in PATH.finditer(code):
                if m.group(1) != top:
                    edges.setdefault(top, set()).add(m.group(1))
            edges.setdefault(top, set())
    return edges


def cycles(edges):
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m in edges and not state.get(m):
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if not state.get(n):
            visit(n)
    return found


def main():
    bad = False
    for src in sys.argv[1:]:
        edges = graph(src)
        found = cycles(edges)
        for c in found:
            bad = True
            print(f"{src}: import cycle: {' -> '.join(c)}")
        if not found:
            order = ", ".join(f"{k} -> {{{', '.join(sorted(v))}}}" for k, v in sorted(edges.items()))
            print(f"{src}: no import cycles ({order})")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
