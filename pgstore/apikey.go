package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/ddoauth/ddoauth"
)

const (
	loadAPIKeySQL   = `SELECT value FROM ddoauth_api_keys WHERE id = $1`
	saveAPIKeySQL   = `INSERT INTO ddoauth_api_keys (id, value) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`
	resealAPIKeySQL = `UPDATE ddoauth_api_keys SET value = $3 WHERE id = $1 AND value = $2`
)

// LoadAPIKey returns the API key saved under id. It returns an error
// wrapping [ddoauth.ErrNotFound] if there is none, and one wrapping
// [ddoauth.ErrCorruptConnection] if the stored value does not open under
// Config.Keys or does not belong to id. A key sealed under an older key
// is sealed again under the newest: API keys are never written twice.
func (s *Store) LoadAPIKey(ctx context.Context, id string) (*ddoauth.APIKey, error) {
	const op = "load API key"
	if err := done(ctx, op); err != nil {
		return nil, err
	}
	var value []byte
	err := s.pool.QueryRow(ctx, loadAPIKeySQL, id).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &ddoauth.Error{Op: op, Err: ddoauth.ErrNotFound}
	}
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	key, err := s.codec.DecodeAPIKey(id, value)
	if err != nil {
		return nil, &ddoauth.Error{Op: op, Err: err}
	}
	if s.codec.ResealNeeded("apikey", id, value) {
		if fresh, err := s.codec.EncodeAPIKey(id, key); err == nil {
			// Best effort: the read succeeded, and the next read tries again.
			s.pool.Exec(ctx, resealAPIKeySQL, id, value, fresh) //nolint:errcheck
		}
	}
	return key, nil
}

// SaveAPIKey saves key under id unless id has one already; then it keeps
// the stored key and returns an error wrapping [ddoauth.ErrConflict].
func (s *Store) SaveAPIKey(ctx context.Context, id string, key *ddoauth.APIKey) error {
	const op = "save API key"
	if err := done(ctx, op); err != nil {
		return err
	}
	value, err := s.codec.EncodeAPIKey(id, key)
	if err != nil {
		return &ddoauth.Error{Op: op, Err: err}
	}
	tag, err := s.pool.Exec(ctx, saveAPIKeySQL, id, value)
	if err != nil {
		return fail(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return &ddoauth.Error{Op: op, Err: ddoauth.ErrConflict}
	}
	return nil
}
