#!/usr/bin/env bash
# Short coverage-guided fuzzing of every Fuzz target of every package,
# FUZZTIME each (seed corpora under each package's testdata/fuzz).
#
# A run that ends with the Go fuzzer's own "context deadline exceeded" and
# no failing input (a coordinator/worker timeout at the end of -fuzztime,
# seen under load) is run once more; any failing input fails at once.
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	for t in $(grep -h -o '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
		echo "fuzz $dir $t ($FUZZTIME)"
		for attempt in 1 2; do
			if "$GO" test "$dir" -run '^$' -fuzz "^$t\$" -fuzztime "$FUZZTIME" >"$log" 2>&1; then
				tail -1 "$log"
				break
			fi
			if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
				echo "fuzz $dir $t: fuzzer timed out without a failing input; running it once more"
				continue
			fi
			cat "$log"
			exit 1
		done
	done
done
