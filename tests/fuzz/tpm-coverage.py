#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Print the lines of hw/tpm/*.c that a profile covered, per file and in
all, from the output of "llvm-cov export -summary-only".

    tpm-coverage.py COVERAGE.json
"""

import json
import re
import sys

covered = total = 0
with open(sys.argv[1]) as fp:
    files = json.load(fp)["data"][0]["files"]
for f in sorted(files, key=lambda f: f["filename"]):
    name = re.search(r"/(hw/tpm/[^/]*\.c)$", f["filename"])
    if not name:
        continue
    lines = f["summary"]["lines"]
    covered, total = covered + lines["covered"], total + lines["count"]
    print(f"  {name[1]:24} {lines['covered']:4} of {lines['count']:4} lines")
print(f"  hw/tpm/*.c: {covered} of {total} lines "
      f"({100 * covered / max(total, 1):.1f}%)")
