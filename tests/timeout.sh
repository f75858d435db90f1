#!/bin/sh
# timeout.sh - run one test with a time limit, so that a hung test fails
# instead of hanging make check. TEST_TIMEOUT (seconds) overrides the limit.
limit=${TEST_TIMEOUT:-300}
exec timeout --kill-after=10 "$limit" "$@"
