package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/ddoauth/ddoauth"
)

const (
	loadSQL = `SELECT version, fence, value FROM ddoauth_connections WHERE id = $1`

	// insertSQL creates a record; nextval is spent even when the row
	// exists, which leaves a gap and nothing else.
	insertSQL = `INSERT INTO ddoauth_connections (id, version, fence, value)
VALUES ($1, nextval('ddoauth_seq'), $2, $3)
ON CONFLICT (id) DO NOTHING
RETURNING version`

	// updateSQL writes over the version the writer read, unless a write
	// under a newer lease landed. Two writers at one version: the second
	// waits for the first's row lock, then finds the version changed.
	updateSQL = `UPDATE ddoauth_connections
SET version = nextval('ddoauth_seq'), fence = greatest(fence, $3), value = $4, updated_at = now()
WHERE id = $1 AND version = $2 AND ($3 = 0 OR fence <= $3)
RETURNING version`

	// deleteSQL reports whether it deleted, and whether the row existed
	// (the outer query sees the table as it was before the DELETE): a
	// row that existed and was not deleted is at another version.
	deleteSQL = `WITH d AS (DELETE FROM ddoauth_connections WHERE id = $1 AND version = $2 RETURNING 1)
SELECT EXISTS (SELECT 1 FROM d), EXISTS (SELECT 1 FROM ddoauth_connections WHERE id = $1)`

	// resealConnSQL replaces a value by the same connection sealed under
	// the newest key, unless the row changed: the version stays, so that
	// no writer holding it conflicts.
	resealConnSQL = `UPDATE ddoauth_connections SET value = $3 WHERE id = $1 AND value = $2`
)

// Load returns the connection saved under id, with its Version and Fence
// set. It returns an error wrapping [ddoauth.ErrNotFound] if there is
// none, and one wrapping [ddoauth.ErrCorruptConnection] if the stored
// value does not open under Config.Keys or does not belong to id.
func (s *Store) Load(ctx context.Context, id string) (*ddoauth.Connection, error) {
	const op = "load connection"
	if err := done(ctx, op); err != nil {
		return nil, err
	}
	var version, fence int64
	var value []byte
	err := s.pool.QueryRow(ctx, loadSQL, id).Scan(&version, &fence, &value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &ddoauth.Error{Op: op, Err: ddoauth.ErrNotFound}
	}
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	conn, err := s.codec.DecodeConnection(id, value)
	if err != nil {
		return nil, &ddoauth.Error{Op: op, Err: err}
	}
	conn.Version, conn.Fence = version, fence
	if s.codec.ResealNeeded("connection", id, value) {
		if fresh, err := s.codec.EncodeConnection(id, conn); err == nil {
			// Best effort: the read succeeded, and the next read tries again.
			s.pool.Exec(ctx, resealConnSQL, id, value, fresh) //nolint:errcheck
		}
	}
	return conn, nil
}

// Save writes conn under id if the record is still at conn.Version (zero:
// if there is none) and, when conn.Fence is not zero, no write with a
// higher fence has landed on it; then it sets conn.Version to the new
// version. Otherwise it writes nothing and returns an error wrapping
// [ddoauth.ErrConflict]. The value is sealed under the newest key.
func (s *Store) Save(ctx context.Context, id string, conn *ddoauth.Connection) error {
	const op = "save connection"
	if err := done(ctx, op); err != nil {
		return err
	}
	value, err := s.codec.EncodeConnection(id, conn)
	if err != nil {
		return &ddoauth.Error{Op: op, Err: err}
	}
	var version int64
	if conn.Version == 0 {
		err = s.pool.QueryRow(ctx, insertSQL, id, max(conn.Fence, 0), value).Scan(&version)
	} else {
		err = s.pool.QueryRow(ctx, updateSQL, id, conn.Version, conn.Fence, value).Scan(&version)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &ddoauth.Error{Op: op, Err: ddoauth.ErrConflict}
	}
	if err != nil {
		return fail(ctx, op, err)
	}
	conn.Version = version
	return nil
}

// Delete removes the record under id if it is at version. It returns an
// error wrapping [ddoauth.ErrConflict] if the record is at another
// version, and one wrapping [ddoauth.ErrNotFound] if there is none.
func (s *Store) Delete(ctx context.Context, id string, version int64) error {
	const op = "delete connection"
	if err := done(ctx, op); err != nil {
		return err
	}
	var deleted, existed bool
	if err := s.pool.QueryRow(ctx, deleteSQL, id, version).Scan(&deleted, &existed); err != nil {
		return fail(ctx, op, err)
	}
	switch {
	case deleted:
		return nil
	case existed:
		return &ddoauth.Error{Op: op, Err: ddoauth.ErrConflict}
	}
	return &ddoauth.Error{Op: op, Err: ddoauth.ErrNotFound}
}
