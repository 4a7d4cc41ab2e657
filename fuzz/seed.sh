#!/usr/bin/env bash
# Seeds both fuzz targets' corpora with the bundled scenarios and the broken files.
set -euo pipefail
cd "$(dirname "$0")"
for target in load run; do
    mkdir -p "corpus/$target"
    cp ../scenarios/*.ron ../tests/broken/*.ron "corpus/$target/"
done
echo "seeded $(ls corpus/load | wc -l) files per target"
