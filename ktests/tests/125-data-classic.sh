#!/bin/bash
# timeout: 600
# 120-data again, with every rext2 mount on the classic page-at-a-time write
# path (write=classic): both paths must pass the same data checks.
export REXT2_WRITE=classic
exec bash "$REXT2_ROOT/ktests/tests/120-data.sh" "$@"
