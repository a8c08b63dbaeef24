#!/usr/bin/env python3
"""Lists product functions longer than a limit (default 60 lines).

Reads clang-formatted C++ (Google style): a definition starts at column 0
and ends at the first line that is a lone '}' at column 0. Prints
`file:line: name is N lines` for each one over the limit and exits 1 if any.
Usage: scripts/long-functions.py [--max N] [FOLDER ...]
"""
import argparse
import pathlib
import re
import sys

PRODUCT = ["common", "hsm", "storage", "audit", "authority", "api", "authd"]
START = re.compile(r"^[A-Za-z_][^;]*\)\s*(const\s*)?(noexcept\s*)?(override\s*)?\{\s*$")


def functions(path):
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        # A signature may wrap: join up to 6 lines until one ends with '{'.
        if re.match(r"^[A-Za-z_]", line) and "(" in line and not line.startswith(
            ("namespace", "using", "class", "struct", "enum", "typedef", "#")
        ):
            sig, j = line, i
            while not sig.rstrip().endswith(("{", ";", "}")) and j < i + 6 and j + 1 < len(lines):
                j += 1
                sig += " " + lines[j].strip()
            if sig.rstrip().endswith("{") and START.match(sig.replace("\n", " ")):
                end = j + 1
                while end < len(lines) and lines[end] != "}":
                    end += 1
                name = re.sub(r"\(.*", "", sig).split()[-1]
                yield i + 1, name, end - i + 1
                i = end
        i += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=60)
    ap.add_argument("folders", nargs="*", default=PRODUCT)
    args = ap.parse_args()
    root = pathlib.Path(__file__).resolve().parent.parent
    found = 0
    for folder in args.folders:
        for path in sorted((root / folder).glob("*.cc")):
            for line, name, length in functions(path):
                if length > args.max:
                    found += 1
                    print(f"{path.relative_to(root)}:{line}: {name} is {length} lines")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
