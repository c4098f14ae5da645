package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddoauth/ddoauth"
)

const (
	// leaseSQL takes a free lease, or one that is owner's or expired by
	// the database's clock, with a new fence; a lease held by another
	// owner returns no row. nextval is spent either way (a gap).
	leaseSQL = `INSERT INTO ddoauth_leases AS l (name, owner, fence, expires_at)
VALUES ($1, $2, nextval('ddoauth_seq'), now() + $3::interval)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, fence = excluded.fence, expires_at = excluded.expires_at
WHERE l.owner = excluded.owner OR l.expires_at <= now()
RETURNING fence`

	releaseSQL = `DELETE FROM ddoauth_leases WHERE name = $1 AND owner = $2`
)

// Lease gives the lease on name to owner for ttl if it is free, expired
// by the database's clock, or owner's already, and returns a new fence,
// larger than every fence and version the store gave before. It returns
// an error wrapping [ddoauth.ErrLeaseHeld] if another owner holds it.
func (s *Store) Lease(ctx context.Context, name, owner string, ttl time.Duration) (int64, error) {
	const op = "lease"
	if err := done(ctx, op); err != nil {
		return 0, err
	}
	var fence int64
	err := s.pool.QueryRow(ctx, leaseSQL, name, owner, ttl).Scan(&fence)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, &ddoauth.Error{Op: op, Err: ddoauth.ErrLeaseHeld}
	}
	if err != nil {
		return 0, fail(ctx, op, err)
	}
	return fence, nil
}

// Release ends owner's lease on name. It does nothing when owner does not
// hold it, so that a holder whose lease expired cannot end its
// successor's.
func (s *Store) Release(ctx context.Context, name, owner string) error {
	const op = "release lease"
	if err := done(ctx, op); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, releaseSQL, name, owner); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}
