#!/usr/bin/env bash
# A/B of this checkout against another one (e.g. a clone of an earlier commit, with node_modules), alternating so
# that both see the same machine load: MELD train builds (raw vectors), then GET /demonstrations at concurrency 1
# and 16 against both servers running side by side.
#   bash scripts/bench/compare-checkouts.sh /tmp/baseline [../shared/data/meld]
set -euo pipefail
other=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")/../.." && pwd)
meld=$(cd "${2:-$here/../shared/data/meld}" && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$here"
node --import tsx -e "import('./src/corpus/load.ts').then((m) => require('fs').writeFileSync('$work/utt.json', JSON.stringify(m.loadCorpus({ format: 'meld', data: '$meld', splits: ['test'] }).dialogues.flatMap((d) => d.turns.map((t) => t.text)))))"
for round in 1 2; do
  for tree in "$other" "$here"; do
    name=$([ "$tree" = "$here" ] && echo this || echo other)
    start=$(date +%s.%N)
    (cd "$tree" && node bin/erc-demos.mjs build --corpus meld --data "$meld" --split train --projection none --out "$work/$name" >/dev/null 2>&1)
    echo "build $name round $round: $(echo "$(date +%s.%N) - $start" | bc) s"
  done
done
(cd "$other" && exec node bin/erc-demos.mjs serve --index "$work/other" --port 18001 >/dev/null 2>&1) &
(cd "$here" && exec node bin/erc-demos.mjs serve --index "$work/this" --port 18002 >/dev/null 2>&1) &
sleep 8
load() { node --import tsx scripts/bench/bench-load.ts --url "http://127.0.0.1:$1" --utterances "$work/utt.json" --connections "$2" --amount "$3" --duration 30 -k 8 2>/dev/null; }
for port in 18001 18002; do load $port 4 300 >/dev/null; done
for c in 1 1 1 16 16; do
  for port in 18001 18002; do
    echo "c$c $([ $port = 18002 ] && echo this || echo other): $(load $port $c $((c == 1 ? 1000 : 4000)))"
  done
done
