#!/usr/bin/env python3
"""The mutation score from one or more cargo-mutants runs over the same mutants.

    scripts/mutants-score.py FIRST/mutants.out [LATER/mutants.out ...]
        [--current LIST] [--equivalent FILE]

A mutant counts as caught if any run caught it (a hang, cargo-mutants' "timeout", is
caught too: the tests did not pass); as unviable if it did not build; otherwise as
missed, with the outcome of the last run that tested it. This is how a two-stage run
is scored: a first pass with fast tests over every mutant, then the whole suite over
what survived (`--iterate`, which tests only those).

`--current FILE` keeps only the mutants of the code as it is now (the output of
`cargo mutants --list` with the same options), so that runs over an older version
of a file do not count mutants whose lines have since moved.

`--equivalent FILE` names mutants that no test can catch because they do not change
what the code does, one per line as cargo-mutants prints them, each followed by ` # `
and the reason; they are shown apart and the score is also given without them.

Prints a table by file, the totals, and every survivor.
"""

import json
import sys
from collections import defaultdict
from pathlib import Path


def outcomes(directory):
    data = json.loads((Path(directory) / "outcomes.json").read_text())
    for outcome in data["outcomes"]:
        scenario = outcome["scenario"]
        if isinstance(scenario, dict) and "Mutant" in scenario:
            yield scenario["Mutant"]["name"], scenario["Mutant"]["file"], outcome["summary"]


def equivalents(path):
    reasons = {}
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, why = line.partition(" # ")
        reasons[name.strip()] = why.strip()
    return reasons


def main(argv):
    runs, equivalent, current = [], {}, None
    args = iter(argv)
    for arg in args:
        if arg == "--equivalent":
            equivalent = equivalents(next(args))
        elif arg == "--current":
            current = set(Path(next(args)).read_text().splitlines())
        else:
            runs.append(arg)
    if not runs:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    state, files = {}, {}
    for run in runs:
        for name, file, summary in outcomes(run):
            if current is not None and name not in current:
                continue
            files[name] = file
            before = state.get(name)
            if before in ("CaughtMutant", "Timeout", "Unviable"):
                continue  # caught, or not buildable, in an earlier run
            state[name] = summary
    by_file = defaultdict(lambda: defaultdict(int))
    missed = []
    for name, summary in state.items():
        kind = {
            "CaughtMutant": "caught",
            "Timeout": "caught",
            "Unviable": "unviable",
        }.get(summary, "missed")
        if kind == "missed" and name in equivalent:
            kind = "equivalent"
        by_file[files[name]][kind] += 1
        if kind == "missed":
            missed.append(name)
    total = defaultdict(int)
    print("| file | mutants | caught | missed | equivalent | unviable | caught of viable |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for file in sorted(by_file):
        counts = by_file[file]
        for k, v in counts.items():
            total[k] += v
        print(row(file, counts))
    print(row("**all**", total))
    viable = total["caught"] + total["missed"] + total["equivalent"]
    if viable:
        print(
            f"\ncaught {total['caught']} of {viable} viable: {100 * total['caught'] / viable:.1f}%;"
            f" without the {total['equivalent']} equivalent:"
            f" {100 * total['caught'] / max(1, viable - total['equivalent']):.1f}%"
        )
    if missed:
        print(f"\n{len(missed)} missed:")
        for name in sorted(missed):
            print(f"  {name}")
    return 0


def row(file, counts):
    viable = counts["caught"] + counts["missed"] + counts["equivalent"]
    mutants = viable + counts["unviable"]
    share = f"{100 * counts['caught'] / viable:.0f}%" if viable else "-"
    return (
        f"| {file} | {mutants} | {counts['caught']} | {counts['missed']} |"
        f" {counts['equivalent']} | {counts['unviable']} | {share} |"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
