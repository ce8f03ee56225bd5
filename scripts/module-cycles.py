#!/usr/bin/env python3
"""Prints the dependency cycles among core/src's top-level modules.

A module is a file `core/src/<m>.rs` or a folder `core/src/<m>/`. Module A depends on B when
A's code (comments excluded, tests included) names `crate::B` — in a path, a `use crate::B…`
line or a `use crate::{B…, …}` group. The script prints every elementary cycle (A -> B -> … -> A),
then the strongly connected groups, then `cycles: N`; it exits 1 when N > 0 and `--check` is given.

Usage: scripts/module-cycles.py [--root core/src] [--check]
"""
import argparse
import os
import re
import sys


def strip_comments(text):
    out = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("//"):
            continue
        # Drop a trailing `// …` comment (naively: not inside a string with `//` like URLs).
        idx = line.find(" // ")
        if idx >= 0 and line[:idx].count('"') % 2 == 0:
            line = line[:idx]
        out.append(line)
    text = "\n".join(out)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def group_heads(body):
    """Top-level names of a `{a::x, b, c::{d, e}}` use group."""
    heads, depth, current = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == 0 and ch == ",":
            heads.append(current)
            current = ""
        else:
            current += ch
    heads.append(current)
    names = []
    for h in heads:
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)", h)
        if m:
            names.append(m.group(1))
    return names


def references(text):
    refs = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text))
    for m in re.finditer(r"\bcrate::\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        refs.update(group_heads(text[m.end(): i - 1]))
    return refs


def modules(root):
    mods = {}
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        if entry in ("lib.rs", "main.rs"):
            continue
        if entry.endswith(".rs"):
            mods.setdefault(entry[:-3], []).append(path)
        elif os.path.isdir(path):
            for dirpath, _, files in os.walk(path):
                for f in files:
                    if f.endswith(".rs"):
                        mods.setdefault(entry, []).append(os.path.join(dirpath, f))
    return mods


def graph(root):
    mods = modules(root)
    edges = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            with open(f, encoding="utf-8") as fh:
                text = strip_comments(fh.read())
            for r in references(text):
                if r in mods and r != m:
                    edges[m].add(r)
    return edges


def elementary_cycles(edges):
    nodes = sorted(edges)
    order = {n: i for i, n in enumerate(nodes)}
    cycles = []

    def dfs(start, node, path, seen):
        for nxt in sorted(edges[node]):
            if nxt == start:
                cycles.append(path + [start])
            elif order[nxt] > order[start] and nxt not in seen:
                seen.add(nxt)
                dfs(start, nxt, path + [nxt], seen)
                seen.remove(nxt)

    for start in nodes:
        dfs(start, start, [start], {start})
    return cycles


def sccs(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--root", default=os.path.join(here, "..", "core", "src"))
    parser.add_argument("--check", action="store_true", help="exit 1 when there is a cycle")
    args = parser.parse_args()
    edges = graph(args.root)
    cycles = elementary_cycles(edges)
    for c in cycles:
        print(" -> ".join(c))
    for comp in sccs(edges):
        print("strongly connected: " + ", ".join(comp))
    print(f"cycles: {len(cycles)}")
    return 1 if args.check and cycles else 0


if __name__ == "__main__":
    sys.exit(main())
