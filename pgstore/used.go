package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// useSQL records key, or takes over its row if that expired by the
	// database's clock; a live row returns nothing.
	useSQL = `INSERT INTO ddoauth_used_states AS u (key, expires_at) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
WHERE u.expires_at <= now()
RETURNING true`

	// sweepSQL drops a batch of expired states, so that the table holds
	// about the states of the last PendingTTL.
	sweepSQL = `DELETE FROM ddoauth_used_states WHERE key IN
(SELECT key FROM ddoauth_used_states WHERE expires_at <= now() LIMIT 1000)`
)

// Use records key until expires and reports whether it was not recorded
// yet, or its record had expired by the database's clock. Of concurrent
// calls with one key, one reports true. About once a minute it also drops
// expired records.
func (s *Store) Use(ctx context.Context, key string, expires time.Time) (bool, error) {
	const op = "use state"
	if err := done(ctx, op); err != nil {
		return false, err
	}
	var first bool
	err := s.pool.QueryRow(ctx, useSQL, key, expires).Scan(&first)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		first = false
	case err != nil:
		return false, fail(ctx, op, err)
	}
	s.sweep(ctx)
	return first, nil
}

// sweep drops expired states if no call of s did for a minute. It is best
// effort: a failure leaves them to the next sweep.
func (s *Store) sweep(ctx context.Context) {
	now := time.Now().UnixNano()
	next := s.nextSweep.Load()
	if now < next || !s.nextSweep.CompareAndSwap(next, now+int64(sweepEvery)) {
		return
	}
	s.pool.Exec(ctx, sweepSQL) //nolint:errcheck // best effort, see above
}
