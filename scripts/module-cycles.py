#!/usr/bin/env python3
"""Finds import cycles between the modules of each crate in the workspace.

A module is a file (`lib.rs` is the crate root, `a/mod.rs` is `a`, `a/b.rs` is `a::b`).
Module A depends on module B when A names an item through `crate::b::…` or
`super::…` that resolves to B. Edges between a module and its own ancestors are
containment, not layering (a folder's `mod.rs` declares and re-exports its children,
and children use their parent's types), so they are left out. Every other cycle is
reported, with the names that tie it; the exit status is 1 when there is one.

    scripts/module-cycles.py            # every crate under the workspace
    scripts/module-cycles.py sdk/src    # one crate's source folder
"""

import pathlib
import re
import sys

REF = re.compile(r"\b(crate|super(?:::super)*)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def modules(src: pathlib.Path) -> dict:
    """Module path (tuple of names) -> file, for every .rs file below `src`."""
    out = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).with_suffix("").parts
        if rel[0] == "bin" or rel[-1] == "main":
            continue
        if rel == ("lib",):
            path = ()
        elif rel[-1] == "mod":
            path = rel[:-1]
        else:
            path = rel
        out[path] = f
    return out


def resolve(names: tuple, known: dict):
    """The longest known module that is a prefix of `names`."""
    for n in range(len(names), -1, -1):
        if names[:n] in known:
            return names[:n]
    return None


def strip_comments(text: str) -> str:
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def edges(known: dict) -> dict:
    graph = {m: {} for m in known}
    for module, file in known.items():
        text = strip_comments(file.read_text())
        # `super` in `a/b.rs` (module a::b) is `a`; in `a/mod.rs` (module a) it is the root.
        for base, rest in REF.findall(text):
            names = tuple(rest.strip(":").split("::"))
            if base == "crate":
                target = names
            else:
                ups = base.count("super")
                if len(module) < ups:
                    continue
                target = module[: len(module) - ups] + names
            found = resolve(target, known)
            if found is None or found == module:
                continue
            if found == module[: len(found)] or module == found[: len(module)]:
                continue  # ancestor or descendant: containment
            graph[module].setdefault(found, set()).add(names[-1])
    return graph


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def name(path: tuple) -> str:
    return "crate::" + "::".join(path) if path else "crate"


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    srcs = [pathlib.Path(a) for a in sys.argv[1:]] or sorted(
        p.parent for p in root.rglob("Cargo.toml") if (p.parent / "src").is_dir() and "target" not in p.parts
    )
    srcs = [s if s.name == "src" else s / "src" for s in srcs]
    found = 0
    for src in srcs:
        known = modules(src)
        graph = edges(known)
        n_edges = sum(len(v) for v in graph.values())
        comps = cycles(graph)
        shown = src.relative_to(root) if src.is_relative_to(root) else src
        print(f"{shown}: {len(known)} modules, {n_edges} dependencies, {len(comps)} cycles")
        for comp in comps:
            found += 1
            print("  cycle: " + " <-> ".join(name(m) for m in sorted(comp)))
            for a in sorted(comp):
                for b, items in sorted(graph[a].items()):
                    if b in comp:
                        print(f"    {name(a)} -> {name(b)}: {', '.join(sorted(items))}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
