#!/usr/bin/env python3
"""Rebuild docs/PERFORMANCE.md's body from docs/perf/*.md (the summary above the first copy is kept).

Usage: python3 scripts/perfdoc.py          # rewrite docs/PERFORMANCE.md
       python3 scripts/perfdoc.py --check  # exit 1 if the body is not a copy of docs/perf/*.md
"""
import re
import sys

PATH = "docs/PERFORMANCE.md"
SEP = re.compile(r"\n---\n<!-- from (docs/perf/[^ ]+) -->\n")

text = open(PATH, encoding="utf-8").read()
parts = SEP.split(text)
out = parts[0]
for name in parts[1::2]:
    body = open(name, encoding="utf-8").read().rstrip("\n")
    out += "\n---\n<!-- from " + name + " -->\n" + body + "\n"
if "--check" in sys.argv[1:]:
    sys.exit(0 if out == text else 1)
open(PATH, "w", encoding="utf-8").write(out)
