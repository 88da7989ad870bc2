"""Every bound in one place: lists, batches, retries, sizes."""

from typing import Final

LIST_LIMIT_DEFAULT: Final = 10
LIST_LIMIT_MAX: Final = 100
EXPAND_DEPTH_MAX: Final = 4

METADATA_KEYS_MAX: Final = 50
METADATA_KEY_LENGTH_MAX: Final = 40
METADATA_VALUE_LENGTH_MAX: Final = 500

IDEMPOTENCY_KEY_LENGTH_MAX: Final = 255
IDEMPOTENCY_KEY_TTL_SECONDS: Final = 24 * 60 * 60

# A command that loses an optimistic-concurrency race is run again from the start.
COMMAND_RETRIES_MAX: Final = 8
COMMAND_RETRY_BACKOFF_SECONDS: Final = 0.002

READ_BATCH_EVENTS: Final = 1000
REBUILD_BATCH_EVENTS: Final = 5000
# Replays (rebuild, audit): rows held before one COPY writes them, and balance rows summed in
# memory before the sums are added to the table.
REPLAY_COPY_ROWS: Final = 5000
REPLAY_BALANCE_KEYS_MAX: Final = 10_000

POOL_CONNECTIONS_MAX: Final = 16

# run_due: items carried out per round, and rounds before we call it a bug (work that keeps
# making more work due at once).
DUE_BATCH_ITEMS: Final = 500
DUE_ROUNDS_MAX: Final = 10_000

# The audit lists at most this many findings per check.
AUDIT_FINDINGS_MAX: Final = 1000

# Card expiry years further ahead than this are refused (no card is issued for longer).
EXP_YEARS_AHEAD_MAX: Final = 50

# Events per INSERT statement (8 parameters each; PostgreSQL takes at most 65,535 parameters).
APPEND_ROWS_PER_STATEMENT: Final = 4000

# Parameters per statement in multi-row writes (PostgreSQL's own limit is 65,535).
STATEMENT_PARAMETERS_MAX: Final = 32_000
