"""Storage: migrations, connection settings, the transaction helper, token digests, passwords."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from conftest import database_thread_held, test_config

from minihs.domain import passwords
from minihs.domain.accounts import token_digest
from minihs.config import PasswordHashingConfig
from minihs.config import TEST_PASSWORD_HASHING
from minihs.store import schema
from minihs.store.accounts import AccountStore, UserExists
from minihs.store.database import Database
from minihs.store.schema import SCHEMA_VERSION, SchemaTooNew, migrate


@pytest.fixture
async def db():
    database = await Database.open(":memory:")
    yield database
    await database.close()


def plain_connection(path=":memory:") -> sqlite3.Connection:
    # Autocommit mode, as Database uses: sqlite3 issues no implicit BEGIN of its own.
    return sqlite3.connect(path, isolation_level=None)


def user_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def pragma(name: str):
    def read(conn: sqlite3.Connection):
        return conn.execute(f"PRAGMA {name}").fetchone()[0]

    return read


def count_users(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]


def insert_user(conn: sqlite3.Connection, user_id: str) -> None:
    conn.execute("INSERT INTO users (user_id, created_ts) VALUES (?, 0)", (user_id,))


class Boom(BaseException):
    """Not an Exception: the helper must roll back on anything that escapes a unit."""


# --- migrations -------------------------------------------------------------------------------


def test_a_new_database_is_migrated_to_the_latest_version():
    conn = plain_connection()
    assert migrate(conn) == 0
    assert user_version(conn) == SCHEMA_VERSION == len(schema.MIGRATIONS)
    assert {"users", "devices", "access_tokens"} <= tables(conn)


def test_migrations_start_from_the_stored_user_version():
    conn = plain_connection()
    for statement in schema.MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    assert migrate(conn) == 1  # migration 1 is not run again (it would fail: tables exist)
    assert user_version(conn) == SCHEMA_VERSION


def test_an_up_to_date_database_runs_no_migration():
    conn = plain_connection()
    migrate(conn)
    before = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    assert migrate(conn) == SCHEMA_VERSION
    assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before


def test_a_failing_migration_leaves_no_trace_and_the_previous_version(monkeypatch):
    broken = [*schema.MIGRATIONS, ["CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"]]
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(broken))
    conn = plain_connection()
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert user_version(conn) == len(broken) - 1  # the earlier migrations did commit
    assert "half_done" not in tables(conn)
    assert not conn.in_transaction


def test_a_database_newer_than_the_code_is_refused():
    conn = plain_connection()
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew):
        migrate(conn)


async def test_reopening_a_file_database_keeps_its_data(tmp_path):
    path = str(tmp_path / "hs.db")
    first = await Database.open(path)
    await first.transaction(insert_user, "@a:hs")
    await first.close()
    second = await Database.open(path)
    try:
        assert await second.read(count_users) == 1
        assert await second.read(pragma("user_version")) == SCHEMA_VERSION
    finally:
        await second.close()


# --- connection settings ----------------------------------------------------------------------


async def test_file_databases_use_the_wal_journal(tmp_path):
    database = await Database.open(str(tmp_path / "hs.db"))
    try:
        assert await database.read(pragma("journal_mode")) == "wal"
    finally:
        await database.close()


async def test_memory_databases_work(db):
    assert await db.read(pragma("journal_mode")) == "memory"
    await db.transaction(insert_user, "@a:hs")
    assert await db.read(count_users) == 1


@pytest.mark.parametrize("level, value", [("off", 0), ("normal", 1), ("full", 2), ("extra", 3)])
async def test_synchronous_level_comes_from_config(tmp_path, level, value):
    database = await Database.open(str(tmp_path / "hs.db"), level)
    try:
        assert await database.read(pragma("synchronous")) == value
    finally:
        await database.close()


async def test_foreign_keys_are_enforced(db):
    assert await db.read(pragma("foreign_keys")) == 1

    def orphan_device(conn):
        conn.execute("INSERT INTO devices (user_id, device_id) VALUES ('@nobody:hs', 'D')")

    with pytest.raises(sqlite3.IntegrityError):
        await db.transaction(orphan_device)


async def test_user_ids_are_unique_by_constraint(db):
    await db.transaction(insert_user, "@a:hs")
    with pytest.raises(sqlite3.IntegrityError):
        await db.transaction(insert_user, "@a:hs")


async def test_device_ids_are_unique_per_user_by_constraint(db):
    def add_device(conn, user_id):
        conn.execute("INSERT INTO devices (user_id, device_id) VALUES (?, 'D')", (user_id,))

    await db.transaction(insert_user, "@a:hs")
    await db.transaction(insert_user, "@b:hs")
    await db.transaction(add_device, "@a:hs")
    await db.transaction(add_device, "@b:hs")  # the same device ID for another user is fine
    with pytest.raises(sqlite3.IntegrityError):
        await db.transaction(add_device, "@a:hs")


async def test_creating_an_existing_account_raises_user_exists(db):
    store = AccountStore(db)
    await store.create_account("@a:hs", "hash", 0)
    with pytest.raises(UserExists):
        await store.create_account("@a:hs", "hash", 0, device=("D", None, b"x" * 32))
    # The failed attempt left nothing behind: no device, no token.
    assert await db.read(lambda conn: conn.execute("SELECT COUNT(*) FROM devices").fetchone()[0]) == 0


# --- the transaction helper -------------------------------------------------------------------


async def test_a_transaction_commits_when_the_unit_returns(db):
    def insert_two(conn):
        insert_user(conn, "@a:hs")
        insert_user(conn, "@b:hs")
        return "done"

    assert await db.transaction(insert_two) == "done"
    assert await db.read(count_users) == 2


@pytest.mark.parametrize("error", [ValueError("bad"), Boom()], ids=["Exception", "BaseException"])
async def test_a_transaction_rolls_back_on_any_exception(db, error):
    def insert_then_fail(conn):
        insert_user(conn, "@a:hs")
        raise error

    with pytest.raises(type(error)):
        await db.transaction(insert_then_fail)
    assert await db.read(count_users) == 0
    assert not await db.read(lambda conn: conn.in_transaction)
    await db.transaction(insert_user, "@b:hs")  # the connection is usable afterwards
    assert await db.read(count_users) == 1


async def test_a_failed_commit_rolls_back_and_leaves_no_open_transaction(db):
    def violate_at_commit(conn):
        # Deferred: the foreign key is checked at COMMIT, so it is the COMMIT that fails.
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute("INSERT INTO devices (user_id, device_id) VALUES ('@nobody:hs', 'D')")

    with pytest.raises(sqlite3.IntegrityError):
        await db.transaction(violate_at_commit)
    assert not await db.read(lambda conn: conn.in_transaction)
    await db.transaction(insert_user, "@a:hs")
    assert await db.read(count_users) == 1


async def test_a_unit_whose_error_ended_the_transaction_keeps_its_own_error(db):
    class UnitError(Exception):
        pass

    def rollback_then_fail(conn):
        insert_user(conn, "@a:hs")
        conn.execute("ROLLBACK")
        raise UnitError

    with pytest.raises(UnitError):  # not "cannot rollback - no transaction is active"
        await db.transaction(rollback_then_fail)
    assert await db.read(count_users) == 0


async def test_a_cancelled_caller_cannot_leave_a_transaction_half_done(db):
    started, release = threading.Event(), threading.Event()

    def slow_insert(conn):
        insert_user(conn, "@a:hs")
        started.set()
        release.wait()
        insert_user(conn, "@b:hs")

    task = asyncio.create_task(db.transaction(slow_insert))
    await asyncio.to_thread(started.wait)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    # The unit ran to its end on the database thread: both rows or neither, never one.
    assert await db.read(count_users) in (0, 2)
    assert not await db.read(lambda conn: conn.in_transaction)


async def test_transactions_of_concurrent_callers_do_not_interleave(db):
    def read_then_write(conn, user_id):
        n = count_users(conn)
        insert_user(conn, f"{user_id}{n}")

    await asyncio.gather(*(db.transaction(read_then_write, "@u") for _ in range(20)))
    # Each unit saw the writes of every unit before it: the counts are 0..19, all distinct.
    names = await db.read(lambda conn: {r[0] for r in conn.execute("SELECT user_id FROM users")})
    assert names == {f"@u{i}" for i in range(20)}


# --- access tokens ----------------------------------------------------------------------------


async def test_access_tokens_are_stored_only_as_sha256_digests(hs):
    alice = await hs.register("alice")
    db = hs.homeserver.db
    rows = await db.read(lambda conn: conn.execute("SELECT * FROM access_tokens").fetchall())
    assert len(rows) == 1
    assert hashlib.sha256(alice.access_token.encode()).digest() in rows[0]
    assert token_digest(alice.access_token) == hashlib.sha256(alice.access_token.encode()).digest()
    dump = "\n".join(await db.read(lambda conn: list(conn.iterdump())))
    assert alice.access_token not in dump


# --- passwords --------------------------------------------------------------------------------


CHEAP_ARGON2 = PasswordHashingConfig(argon2_memory_kib=64, argon2_time_cost=1, argon2_parallelism=1)
CHEAP_SCRYPT = PasswordHashingConfig(algorithm="scrypt", scrypt_log2_n=5, scrypt_r=2)


def test_password_hash_is_argon2id_and_records_its_parameters():
    stored = passwords.hash_password_sync("secret", CHEAP_ARGON2)
    assert stored.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert passwords.verify_password_sync("secret", stored)
    assert not passwords.verify_password_sync("Secret", stored)


def test_the_default_cost_is_four_times_owasps_argon2id_minimum():
    # OWASP: 19 MiB and 2 passes at least (rated equal to bcrypt 10); Synapse's bcrypt 12 is
    # four times that work, and the default is four times the memory.
    stored = passwords.hash_password_sync("secret", PasswordHashingConfig())
    assert stored.startswith(f"$argon2id$v=19$m={4 * 19 * 1024},t=2,p=2$")
    assert passwords.verify_password_sync("secret", stored)


def test_password_hash_is_scrypt_when_configured_and_records_its_parameters():
    stored = passwords.hash_password_sync("secret", CHEAP_SCRYPT)
    scheme, log2_n, r, p, salt, key = stored.split("$")
    assert (scheme, log2_n, r, p) == ("scrypt", "5", "2", "1")
    assert passwords.verify_password_sync("secret", stored)
    assert not passwords.verify_password_sync("Secret", stored)


@pytest.mark.parametrize("cost", [CHEAP_ARGON2, CHEAP_SCRYPT], ids=["argon2id", "scrypt"])
def test_password_hashes_are_salted(cost):
    assert passwords.hash_password_sync("secret", cost) != passwords.hash_password_sync("secret", cost)


def test_verification_uses_the_parameters_stored_with_the_hash():
    # Hashes made at other costs, and scrypt hashes from before argon2id, still verify.
    made_before = [
        passwords.hash_password_sync("secret", CHEAP_SCRYPT),
        passwords.hash_password_sync("secret", dataclasses.replace(CHEAP_SCRYPT, scrypt_log2_n=4)),
        passwords.hash_password_sync("secret", dataclasses.replace(CHEAP_ARGON2, argon2_time_cost=3)),
        passwords.hash_password_sync("secret", CHEAP_ARGON2),
    ]
    assert all(passwords.verify_password_sync("secret", stored) for stored in made_before)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "bcrypt$4$1$1$AAAA$AAAA",
        "scrypt$x$1$1$AAAA$AAAA",
        "scrypt$4$1$1$!!$!!",
        "$argon2id$v=19$m=64,t=1,p=1$!!$!!",
        "$argon2id$garbage",
        "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_a_malformed_stored_hash_never_verifies(stored):
    assert passwords.verify_password_sync("secret", stored) is False


def test_scrypt_comparison_is_constant_time(monkeypatch):
    # (argon2's verification compares in constant time inside libargon2.)
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passwords.hmac, "compare_digest", spy)
    stored = passwords.hash_password_sync("secret", CHEAP_SCRYPT)
    assert passwords.verify_password_sync("secret", stored)
    assert len(calls) == 1


async def test_password_hashing_runs_off_the_event_loop_thread(monkeypatch):
    threads = []

    def recording(real):
        def run(*args):
            threads.append(threading.get_ident())
            return real(*args)

        return run

    monkeypatch.setattr(passwords, "hash_password_sync", recording(passwords.hash_password_sync))
    monkeypatch.setattr(passwords, "verify_password_sync", recording(passwords.verify_password_sync))
    stored = await passwords.hash_password("secret", CHEAP_ARGON2)
    assert await passwords.verify_password("secret", stored)
    assert len(threads) == 2
    assert threading.get_ident() not in threads


async def test_no_more_hashes_run_at_once_than_there_are_cores(monkeypatch):
    running, most = 0, 0
    lock = threading.Lock()
    real = passwords._scrypt

    def counting(*args):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.02)  # long enough for the other threads to pile up behind the slots
            return real(*args)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(passwords, "_scrypt", counting)
    await asyncio.gather(*(passwords.hash_password("secret", CHEAP_SCRYPT) for _ in range(6)))
    assert 1 <= most <= max(1, os.cpu_count() or 1)


@pytest.mark.parametrize(
    "cost, prefix",
    [
        (PasswordHashingConfig(argon2_memory_kib=16, argon2_time_cost=2, argon2_parallelism=1),
         "$argon2id$v=19$m=16,t=2,p=1$"),
        (PasswordHashingConfig(algorithm="scrypt", scrypt_log2_n=5, scrypt_r=3), "scrypt$5$3$1$"),
    ],
    ids=["argon2id", "scrypt"],
)
async def test_registration_hashes_with_the_configured_cost(make_homeserver, cost, prefix):
    config = test_config()  # the testing profile sets the cheapest cost; ask for another
    config.password_hashing = cost
    hs = await make_homeserver(config)
    alice = await hs.register("alice")
    stored = await hs.homeserver.db.read(
        lambda conn: conn.execute(
            "SELECT password_hash FROM users WHERE user_id = ?", (alice.user_id,)
        ).fetchone()[0]
    )
    assert stored.startswith(prefix)
    login = {"type": "m.login.password", "user": "alice", "password": alice.password}
    body = await hs.request("POST", "/_matrix/client/v3/login", json=login)
    assert body["user_id"] == alice.user_id


@pytest.mark.parametrize("cost", [CHEAP_ARGON2, CHEAP_SCRYPT], ids=["argon2id", "scrypt"])
def test_a_hash_made_at_the_configured_cost_needs_no_rehash(cost):
    assert not passwords.needs_rehash(passwords.hash_password_sync("secret", cost), cost)


@pytest.mark.parametrize(
    "made_with",
    [
        CHEAP_SCRYPT,
        dataclasses.replace(CHEAP_ARGON2, argon2_memory_kib=32),
        dataclasses.replace(CHEAP_ARGON2, argon2_memory_kib=32, argon2_parallelism=2),
    ],
    ids=["scrypt", "less-memory", "less-memory-other-lanes"],
)
def test_a_weaker_hash_needs_a_rehash(made_with):
    configured = dataclasses.replace(CHEAP_ARGON2, argon2_time_cost=2)
    assert passwords.needs_rehash(passwords.hash_password_sync("secret", made_with), configured)


@pytest.mark.parametrize(
    "made_with",
    [
        dataclasses.replace(CHEAP_ARGON2, argon2_memory_kib=128),  # stronger
        dataclasses.replace(CHEAP_ARGON2, argon2_memory_kib=128, argon2_time_cost=1),  # mixed
        dataclasses.replace(CHEAP_ARGON2, argon2_time_cost=2, argon2_parallelism=2),  # lanes only
    ],
    ids=["stronger", "more-memory-fewer-passes", "other-lanes"],
)
def test_a_hash_no_weaker_than_the_configured_cost_is_kept(made_with):
    configured = dataclasses.replace(CHEAP_ARGON2, argon2_time_cost=2)
    assert not passwords.needs_rehash(passwords.hash_password_sync("secret", made_with), configured)


def test_a_cheaper_configuration_never_downgrades_a_hash():
    # The testing profile (8 KiB, one pass) against a hash made at the production default.
    stored = "$argon2id$v=19$m=77824,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
    assert not passwords.needs_rehash(stored, TEST_PASSWORD_HASHING)


def test_scrypt_configured_upgrades_weaker_scrypt_and_keeps_argon2id():
    configured = dataclasses.replace(CHEAP_SCRYPT, scrypt_log2_n=6)
    assert passwords.needs_rehash(passwords.hash_password_sync("secret", CHEAP_SCRYPT), configured)
    assert not passwords.needs_rehash(passwords.hash_password_sync("secret", CHEAP_ARGON2), configured)


async def _stored_hash(hs, user_id: str) -> str:
    return await hs.homeserver.db.read(
        lambda conn: conn.execute(
            "SELECT password_hash FROM users WHERE user_id = ?", (user_id,)
        ).fetchone()[0]
    )


async def _password_login(hs, user) -> None:
    login = {"type": "m.login.password", "user": user.user_id, "password": user.password}
    await hs.request("POST", "/_matrix/client/v3/login", json=login)


async def test_login_brings_an_older_hash_to_the_configured_cost(make_homeserver):
    config = test_config()
    config.password_hashing = CHEAP_SCRYPT  # as stored by a minihs from before argon2id
    hs = await make_homeserver(config)
    alice = await hs.register("alice")
    assert (await _stored_hash(hs, alice.user_id)).startswith("scrypt$")
    config.password_hashing = CHEAP_ARGON2  # the configured cost changed since
    await _password_login(hs, alice)
    renewed = await _stored_hash(hs, alice.user_id)
    assert renewed.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    await _password_login(hs, alice)  # the new hash verifies the same password
    assert await _stored_hash(hs, alice.user_id) == renewed  # and is not made again


async def test_login_at_the_configured_cost_leaves_the_hash_alone(make_homeserver):
    config = test_config()
    config.password_hashing = CHEAP_ARGON2
    hs = await make_homeserver(config)
    alice = await hs.register("alice")
    before = await _stored_hash(hs, alice.user_id)
    await _password_login(hs, alice)
    assert await _stored_hash(hs, alice.user_id) == before


# --- layering ---------------------------------------------------------------------------------


def test_all_sql_lives_in_the_storage_package():
    package = Path(passwords.__file__).resolve().parent
    sql = re.compile(
        r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+TABLE|PRAGMA)\b"
    )
    offenders = []
    for path in package.rglob("*.py"):
        if "store" in path.relative_to(package).parts:
            continue
        text = path.read_text(encoding="utf-8")
        if sql.search(text) or re.search(r"^\s*(import|from)\s+aiosqlite\b", text, re.M):
            offenders.append(str(path.relative_to(package)))
    assert offenders == []


# --- group commit -----------------------------------------------------------------------------


async def _grouped(db, *units):
    """Run units so that they are committed as one group."""
    async with database_thread_held(db):
        queued = [asyncio.ensure_future(db.transaction(fn, *args)) for fn, args in units]
        await asyncio.sleep(0)  # let every unit reach the queue
    return await asyncio.gather(*queued, return_exceptions=True)


async def test_units_queued_together_are_committed_in_one_group(db, monkeypatch):
    from minihs.store import database

    groups = []
    run_group = database._run_group
    monkeypatch.setattr(
        database, "_run_group", lambda conn, units: groups.append(len(units)) or run_group(conn, units)
    )
    results = await _grouped(db, *[(insert_user, (f"@u{i}:hs",)) for i in range(5)])
    assert results == [None] * 5
    assert groups[-1] == 5
    assert await db.read(count_users) == 5


async def test_a_failing_unit_in_a_group_is_rolled_back_alone(db):
    def insert_then_fail(conn):
        insert_user(conn, "@bad:hs")
        raise ValueError("this unit only")

    results = await _grouped(
        db, (insert_user, ("@a:hs",)), (insert_then_fail, ()), (insert_user, ("@b:hs",))
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValueError)
    names = await db.read(lambda conn: {r[0] for r in conn.execute("SELECT user_id FROM users")})
    assert names == {"@a:hs", "@b:hs"}


async def test_a_unit_that_ends_the_transaction_fails_the_units_it_undid(db):
    from minihs.store.database import TransactionLost

    def rollback_everything(conn):
        conn.execute("ROLLBACK")
        raise RuntimeError("ended the transaction")

    results = await _grouped(
        db, (insert_user, ("@a:hs",)), (rollback_everything, ()), (insert_user, ("@b:hs",))
    )
    # @a's write was undone, so its caller must not hear "committed"; @b ran afterwards.
    assert isinstance(results[0], TransactionLost)
    assert isinstance(results[1], RuntimeError)
    assert results[2] is None
    names = await db.read(lambda conn: {r[0] for r in conn.execute("SELECT user_id FROM users")})
    assert names == {"@b:hs"}


async def test_a_failed_commit_fails_every_unit_of_its_group(db):
    def violate_at_commit(conn):
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute("INSERT INTO devices (user_id, device_id) VALUES ('@nobody:hs', 'D')")

    results = await _grouped(db, (insert_user, ("@a:hs",)), (violate_at_commit, ()))
    assert all(isinstance(result, sqlite3.IntegrityError) for result in results)
    assert await db.read(count_users) == 0


# --- the reset step ---------------------------------------------------------------------------


async def test_replacing_with_empty_comes_after_units_queued_before_it_and_before_later_ones(db):
    async with database_thread_held(db):
        before = db.submit(insert_user, "@before:hs")
        emptied = db.replace_with_empty()
        after = db.submit(insert_user, "@after:hs")
    await asyncio.gather(before, emptied, after)
    names = await db.read(lambda conn: {r[0] for r in conn.execute("SELECT user_id FROM users")})
    assert names == {"@after:hs"}


async def test_replacing_with_empty_settles_before_any_later_unit(db):
    order = []
    async with database_thread_held(db):
        db.replace_with_empty(on_settled=lambda ok, _: order.append(("reset", ok)))
        later = db.submit(insert_user, "@a:hs", on_settled=lambda ok, _: order.append(("unit", ok)))
        await asyncio.sleep(0)
    await later
    assert order == [("reset", True), ("unit", True)]


async def test_a_file_database_replaced_with_empty_keeps_wal_and_its_schema(tmp_path):
    database = await Database.open(str(tmp_path / "hs.db"))
    try:
        await database.transaction(insert_user, "@a:hs")
        await database.replace_with_empty()
        assert await database.read(count_users) == 0
        assert await database.read(pragma("journal_mode")) == "wal"
        assert await database.read(pragma("user_version")) == SCHEMA_VERSION
        assert await database.read(pragma("foreign_keys")) == 1
    finally:
        await database.close()
    reopened = await Database.open(str(tmp_path / "hs.db"))
    try:
        assert await reopened.read(count_users) == 0
    finally:
        await reopened.close()


async def test_a_closed_database_leaves_no_thread_behind():
    before = set(threading.enumerate())
    database = await Database.open(":memory:")
    await database.close()
    assert set(threading.enumerate()) - before == set()


def test_the_database_uses_no_private_api_of_other_libraries():
    # Issue 14: public APIs of other libraries only. The database thread is our own.
    source = (Path(passwords.__file__).resolve().parent.parent / "store" / "database.py")
    text = source.read_text(encoding="utf-8")
    assert "aiosqlite" not in re.sub(r'""".*?"""|#.*', "", text, flags=re.S)
    assert "._execute" not in text and "._conn._conn" not in text


# --- migration 4: the unqueried index memberships_by_user goes -------------------------------


def indexes(conn: sqlite3.Connection) -> set[str]:
    return {
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }


def database_at_version_3(path=":memory:") -> sqlite3.Connection:
    """A database as minihs left it before migration 4, with a joined membership in it."""
    conn = plain_connection(path)
    for migration in schema.MIGRATIONS[:3]:
        for statement in migration:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO rooms VALUES (1, '!r:hs', '10', '@a:hs', 0)")
    conn.execute("INSERT INTO events VALUES (1, '$e', 1, 'm.room.member', '@a:hs', 1, '{}')")
    conn.execute("INSERT INTO current_state VALUES (1, 'm.room.member', '@a:hs', 1)")
    conn.execute("INSERT INTO memberships VALUES (1, '@a:hs', 'join', 1)")
    return conn


def test_migration_4_drops_memberships_by_user_and_keeps_the_rows():
    conn = database_at_version_3()
    assert "memberships_by_user" in indexes(conn)
    assert migrate(conn) == 3
    assert user_version(conn) == SCHEMA_VERSION  # 4, and the later ones
    assert "memberships_by_user" not in indexes(conn)
    assert "memberships_joined" in indexes(conn)
    assert conn.execute("SELECT user_id, membership FROM memberships").fetchall() == [
        ("@a:hs", "join")
    ]


def test_a_new_database_has_no_memberships_by_user_index():
    conn = plain_connection()
    migrate(conn)
    assert "memberships_by_user" not in indexes(conn)


def test_the_joined_memberships_loader_reads_through_memberships_joined():
    # The query that made memberships_by_user unnecessary: the start-up loader's.
    conn = plain_connection()
    migrate(conn)
    plan = " ".join(
        row[-1]
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT user_id, group_concat(room_nid) FROM memberships "
            "WHERE membership = 'join' GROUP BY user_id"
        )
    )
    assert "COVERING INDEX memberships_joined" in plan


async def test_a_version_3_database_file_opens_and_serves_its_joined_rooms(tmp_path):
    from minihs.domain.homeserver import Homeserver

    path = str(tmp_path / "v3.db")
    database_at_version_3(path).close()
    config = test_config()
    config.database.path = path  # the testing profile chooses :memory:
    hs = await Homeserver.open(config)
    try:
        assert hs.room_reads.joined_rooms("@a:hs") == ["!r:hs"]
        assert await hs.db.read(pragma("user_version")) == SCHEMA_VERSION
    finally:
        await hs.close()
