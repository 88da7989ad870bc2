"""`Ledger`: open a store, wire the services, the clock and pricing."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from psycopg_pool import ConnectionPool

from ledger import db
from ledger.audit import AuditReport, Progress, run_audit
from ledger.clock import Clock, SystemClock
from ledger.ids import new_id
from ledger.money import DEFAULT_PRICING, Pricing
from ledger.processor import Processor, SimulatedProcessor
from ledger.projections.rebuild import RebuildReport
from ledger.projections.rebuild import rebuild as rebuild_projections
from ledger.projections.registry import PROJECTIONS_VERSION
from ledger.services.accounts import AccountsService, open_platform_account
from ledger.services.application_fees import ApplicationFeesService
from ledger.services.balance import BalanceService, BalanceTransactionsService
from ledger.services.charges import ChargesService
from ledger.services.customers import CustomersService
from ledger.services.disputes import DisputesService
from ledger.services.due import run_due
from ledger.services.events import EventsService
from ledger.services.payment_intents import PaymentIntentsService
from ledger.services.payment_methods import PaymentMethodsService
from ledger.services.payouts import PayoutsService
from ledger.services.refunds import RefundsService
from ledger.services.runner import Engine
from ledger.services.test_helpers import TestHelpersService
from ledger.services.topups import TopupsService
from ledger.services.transfers import TransfersService
from ledger.store.events import START, LogPosition, RecordedEvent, read_all

__all__ = ["Ledger"]

_PLATFORM_SETTING = "platform_account_id"


def _rebuild_if_stale(pool: ConnectionPool[Any], platform_account_id: str, clock: Clock) -> bool:
    """Rebuild the projections if another version of the code wrote them; True if it did."""
    setting = "projections_version"
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT value FROM ledger_settings WHERE name = %s", (setting,)
        ).fetchone()
        if row is not None and row[0] == str(PROJECTIONS_VERSION):
            return False
        rebuild_projections(conn, platform_account_id, clock.now())
        conn.execute(
            "INSERT INTO ledger_settings (name, value) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            (setting, str(PROJECTIONS_VERSION)),
        )
    return True


def _platform_account_id(pool: ConnectionPool[Any]) -> str:
    """The platform account of this database, created on first open."""
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO ledger_settings (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (_PLATFORM_SETTING, new_id("acct")),
        )
        row = conn.execute(
            "SELECT value FROM ledger_settings WHERE name = %s", (_PLATFORM_SETTING,)
        ).fetchone()
    assert row is not None
    return str(row[0])


class Ledger:
    """A payments ledger with Stripe's API, on PostgreSQL.

    `Ledger.open()` uses `$DATABASE_URL`, or starts a private PostgreSQL under `$LEDGER_HOME`
    (default `./.ledger`). Services are named as in stripe-python's StripeClient.
    """

    def __init__(
        self,
        pool: ConnectionPool[Any],
        clock: Clock,
        url: str,
        pricing: Pricing = DEFAULT_PRICING,
        processor: Processor | None = None,
    ) -> None:
        self._pool = pool
        self.url = url
        self.clock = clock
        self.pricing = pricing
        self.processor = processor or SimulatedProcessor()
        self.platform_account_id = _platform_account_id(pool)
        self._engine = Engine(pool, clock, self.platform_account_id, pricing, self.processor)
        self.balance = BalanceService(self._engine)
        self.balance_transactions = BalanceTransactionsService(self._engine)
        self.customers = CustomersService(self._engine)
        self.events = EventsService(self._engine)
        self.test_helpers = TestHelpersService(self._engine)
        self.charges = ChargesService(self._engine)
        self.payment_intents = PaymentIntentsService(self._engine)
        self.payment_methods = PaymentMethodsService(self._engine)
        self.refunds = RefundsService(self._engine)
        self.disputes = DisputesService(self._engine)
        self.accounts = AccountsService(self._engine)
        self.payouts = PayoutsService(self._engine)
        self.transfers = TransfersService(self._engine)
        self.application_fees = ApplicationFeesService(self._engine)
        self.topups = TopupsService(self._engine)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        clock: Clock | None = None,
        pricing: Pricing | None = None,
        processor: Processor | None = None,
        migrate: bool = True,
        pool_size: int | None = None,
    ) -> Ledger:
        """Open the ledger at `url` (libpq or SQLAlchemy form), applying migrations.

        `processor` authorizes card payments; the default simulates Stripe's test cards.
        """
        resolved = db.resolve_url(url)
        if migrate:
            db.migrate(resolved)
        pool = db.open_pool(resolved, **({"max_size": pool_size} if pool_size else {}))
        try:
            ledger = cls(
                pool, clock or SystemClock(), resolved, pricing or DEFAULT_PRICING, processor
            )
            if migrate:
                # Projections written by another version of the code are rebuilt from the log.
                _rebuild_if_stale(pool, ledger.platform_account_id, ledger.clock)
            # The platform's own Account object, opened with the ledger's first open.
            open_platform_account(ledger._engine)
            return ledger
        except BaseException:
            pool.close()
            raise

    def rebuild(self) -> RebuildReport:
        """Rebuild every projection from position 0 of the log."""
        with self._pool.connection() as conn:
            return rebuild_projections(conn, self.platform_account_id, self.clock.now())

    def audit(self, progress: Progress | None = None) -> AuditReport:
        """Replay the whole log into shadow projections, compare, and check the invariants.

        `progress(replayed, total)` is called after each batch of events.
        """
        with self._pool.connection() as conn:
            return run_audit(conn, self.platform_account_id, progress)

    def run_due(self) -> int:
        """Carry out everything that fell due by the ledger's clock, in time order.

        Pending funds become available, uncaptured authorizations expire, dispute deadlines
        pass. Each is recorded as events. Returns how many items ran.
        """
        return run_due(self._engine, self.clock.now())

    def read_all(
        self, after_position: LogPosition | tuple[int, int] = START, limit: int = 1000
    ) -> list[RecordedEvent]:
        """Committed domain events after `after_position`, in commit-safe order."""
        with self._pool.connection() as conn:
            return read_all(conn, LogPosition(*after_position), limit)

    def close(self) -> None:
        """Close the connection pool."""
        self._pool.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger(account={self.platform_account_id!r})"
