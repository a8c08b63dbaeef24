#!/usr/bin/env bash
# Changes: creating a credential at 1 and 4 concurrent writers (HSM random,
# pepper HMAC, audit entry, checkpoint signature, HSM head, fsync'd commit),
# in-process on a SoftHSM2 token, with the HSM's raw ES256 signature and a
# bare fsync'd SQLite commit on the same disk as the reference.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${AUTHD_BIN:-$here/build/bin}
exec "$bin/change_bench"
