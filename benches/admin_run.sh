#!/usr/bin/env bash
# The admin's change-list benchmark (issue 20): 100,000 rows on SQLite, search + filter +
# page 500, in-process. Prints the line BENCHMARKS.md quotes, with the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d)"
cargo bench -p canter-admin --bench changelist 2>&1 | grep -E "^(admin change list|seeded)"
