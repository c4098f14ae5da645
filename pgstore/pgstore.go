// Package pgstore keeps ddoauth's connections, leases, API keys and used
// authorization states in Postgres, for a fleet of replicas. A [Store] is
// a [ddoauth.Store], [ddoauth.Leaser], [ddoauth.APIKeyStore] and
// [ddoauth.UsedStates], over a pgxpool.Pool the caller owns.
//
// Every operation is one statement, so each is atomic without a
// transaction: a conditional write is an INSERT ... ON CONFLICT DO NOTHING
// or an UPDATE ... WHERE version = $read, a lease an upsert whose update
// applies only to its owner or an expired row. Versions and lease fences
// come from one sequence, ddoauth_seq, so a number is never given twice,
// even to a record deleted and created again. Leases and used states
// expire by the database's clock, now(), never a replica's.
//
// # Schema
//
// [Store.Migrate] creates the tables if they do not exist; partners who
// run their migrations themselves apply [Schema] instead. The tables are
// named ddoauth_*: to keep them in a schema of their own, set the pool's
// search_path (RuntimeParams["search_path"]).
//
// Values are sealed with AES-256-GCM under Config.Keys and bound to their
// ID, so that a value copied into another row does not open. A value
// sealed under an older key, or stored in clear, is sealed again under
// the newest key when it is next read or written.
//
// Save must be durable when it returns: keep synchronous_commit on (the
// default) for these tables.
//
// # Deadlines and failures
//
// Give calls a deadline: pgx bounds each call by its context, and a call
// whose context ends returns at once with an error wrapping the context's
// error. The statement it sent may still complete, as after a connection
// lost in flight: a Save that reported an error may have landed, and the
// caller's next Load finds it. pgx's default only closes the connection;
// to have Postgres stop the statement too, set the pool's
// ConnConfig.BuildContextWatcherHandler to a
// pgconn.CancelRequestContextWatcherHandler. The Store does not retry:
// after a failover or restart, the pool dials again on the next call.
// Errors are [*ddoauth.Error] values wrapping the pgx error, without the
// statement's arguments or a server error's detail.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/record"
)

// Schema is the SQL that [Store.Migrate] runs: it creates what a Store
// needs if it does not exist, and may be run again.
//
// ddoauth_seq gives versions and fences. A connection's row keeps its
// version, the highest fence written to it and its sealed value; a
// lease's row its owner, fence and expiry. A used state's row is dropped
// some time after it expired.
const Schema = `CREATE SEQUENCE IF NOT EXISTS ddoauth_seq AS bigint;

CREATE TABLE IF NOT EXISTS ddoauth_connections (
	id         text PRIMARY KEY,
	version    bigint NOT NULL,
	fence      bigint NOT NULL DEFAULT 0,
	value      bytea NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ddoauth_api_keys (
	id         text PRIMARY KEY,
	value      bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ddoauth_leases (
	name       text PRIMARY KEY,
	owner      text NOT NULL,
	fence      bigint NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS ddoauth_used_states (
	key        text PRIMARY KEY,
	expires_at timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS ddoauth_used_states_expires_at ON ddoauth_used_states (expires_at);
`

// migrateLock is the key of the advisory lock Migrate holds, so that
// replicas starting together do not race on CREATE ... IF NOT EXISTS
// (which is not safe against a concurrent create).
const migrateLock = 0x64646f61757468 // "ddoauth"

// sweepEvery is how often a Store drops expired used states.
const sweepEvery = time.Minute

// Config configures a Store.
type Config struct {
	// Keys seal the stored values: 32 random bytes each, newest first.
	// Values are sealed under the first and open under any, so a key is
	// retired by putting a new one first and removing the old one once
	// every record was read or written again. New refuses a repeated or
	// all-zero key.
	Keys [][]byte

	// InsecurePlaintext stores tokens and API keys in clear when Keys is
	// empty. It MUST NOT be used in production: anyone who can read the
	// database (or its files, or a backup) can then use every connection.
	InsecurePlaintext bool
}

// Store is a ddoauth store in Postgres. It is safe for concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	codec *record.Codec

	nextSweep atomic.Int64 // UnixNano after which Use drops expired states
}

// Compile-time checks of the contracts Store meets.
var (
	_ ddoauth.Store       = (*Store)(nil)
	_ ddoauth.Leaser      = (*Store)(nil)
	_ ddoauth.APIKeyStore = (*Store)(nil)
	_ ddoauth.UsedStates  = (*Store)(nil)
)

// New returns a Store using pool, which the caller keeps and closes. Run
// [Store.Migrate] (or apply [Schema]) before using it. New returns an
// error wrapping [ddoauth.ErrInvalidConfig] when pool is nil, when cfg has
// no keys and not InsecurePlaintext (that error also wraps
// record.ErrNoKey's message), or when a key is not 32 bytes.
func New(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	invalid := func(err error) error {
		return &ddoauth.Error{Op: "new postgres store", Err: fmt.Errorf("%w: %w", ddoauth.ErrInvalidConfig, err)}
	}
	if pool == nil {
		return nil, invalid(errors.New("no pool"))
	}
	codec, err := record.New(cfg.Keys, cfg.InsecurePlaintext)
	if err != nil {
		return nil, invalid(err)
	}
	return &Store{pool: pool, codec: codec}, nil
}

// Migrate applies [Schema] in one transaction, under an advisory lock so
// that replicas may all run it at start-up. It changes nothing that
// exists already.
func (s *Store) Migrate(ctx context.Context) error {
	const op = "migrate postgres store"
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fail(ctx, op, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit, a no-op
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLock)); err != nil {
		return fail(ctx, op, err)
	}
	if _, err := tx.Exec(ctx, Schema); err != nil {
		return fail(ctx, op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// Format prints the database the store uses and whether it seals, never
// a key, a password or a value, for every verb.
func (s *Store) Format(f fmt.State, verb rune) {
	if s == nil || s.pool == nil {
		fmt.Fprint(f, "pgstore.Store{}")
		return
	}
	c := s.pool.Config().ConnConfig
	fmt.Fprintf(f, "pgstore.Store{host:%q port:%d database:%q sealed:%t}", c.Host, c.Port, c.Database, s.codec.Sealed())
}

// LogValue logs what Format prints.
func (s *Store) LogValue() slog.Value {
	if s == nil || s.pool == nil {
		return slog.GroupValue()
	}
	c := s.pool.Config().ConnConfig
	return slog.GroupValue(slog.String("host", c.Host), slog.Int("port", int(c.Port)),
		slog.String("database", c.Database), slog.Bool("sealed", s.codec.Sealed()))
}

// fail wraps a failed call. A call that failed because ctx ended, with
// whatever error the connection gave, also wraps ctx's error. A server
// error keeps its code, severity and message but not its detail, which
// may quote a row.
func fail(ctx context.Context, op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		err = &pgconn.PgError{Severity: pe.Severity, Code: pe.Code, Message: pe.Message,
			SchemaName: pe.SchemaName, TableName: pe.TableName, ConstraintName: pe.ConstraintName}
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return &ddoauth.Error{Op: op, Err: err}
}

// done is the error of a call whose ctx ended before it began.
func done(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return &ddoauth.Error{Op: op, Err: err}
	}
	return nil
}
