#!/usr/bin/env bash
# Seed the fuzz corpora from the shared binlog corpus (never committed:
# the binlog files stay outside the repository).
set -euo pipefail
cd "$(dirname "$0")"
src="${SLUICE_BINLOGS:-../../shared/binlogs}"
mkdir -p corpus/decode_file corpus/decode_event
for f in "$src"/*; do
    case "$f" in *.expected.*|*.tsv|*.md|*.py) continue ;; esac
    cp "$f" corpus/decode_file/
done
# Single events: type byte + body, cut from the files by a small walker.
python3 - "$src" <<'PY'
import os, struct, sys
src = sys.argv[1]
n = 0
for name in sorted(os.listdir(src)):
    if ".expected." in name or name.endswith((".tsv", ".md", ".py")):
        continue
    d = open(os.path.join(src, name), "rb").read()
    p = 4
    while p + 19 <= len(d) and n < 4000:
        size = struct.unpack_from("<I", d, p + 9)[0]
        if size < 19 or p + size > len(d):
            break
        open("corpus/decode_event/%05d" % n, "wb").write(bytes([d[p + 4]]) + d[p + 19:p + size])
        n += 1
        p += size
PY
echo "seeded: $(ls corpus/decode_file | wc -l) files, $(ls corpus/decode_event | wc -l) events"
