package redisstore

import (
	"context"
	"errors"

	"github.com/ddoauth/ddoauth"
)

// LoadAPIKey returns the API key saved under id. It returns an error
// wrapping [ddoauth.ErrNotFound] if there is none, and one wrapping
// [ddoauth.ErrCorruptConnection] if the stored value does not open under
// Config.Keys or does not belong to id.
func (s *Store) LoadAPIKey(ctx context.Context, id string) (*ddoauth.APIKey, error) {
	const op = "load API key"
	if err := ctx.Err(); err != nil {
		return nil, &ddoauth.Error{Op: op, Err: err}
	}
	key := s.apiKeyKey(id)
	b, err := s.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	k, err := s.codec.DecodeAPIKey(id, b)
	if err != nil {
		return nil, &ddoauth.Error{Op: op, Err: err}
	}
	if s.codec.ResealNeeded("apikey", id, b) {
		if fresh, err := s.codec.EncodeAPIKey(id, k); err == nil {
			s.reseal(ctx, key, "", b, fresh)
		}
	}
	return k, nil
}

// SaveAPIKey stores key under id unless id has one already: then it keeps
// that one and returns an error wrapping [ddoauth.ErrConflict].
func (s *Store) SaveAPIKey(ctx context.Context, id string, key *ddoauth.APIKey) error {
	const op = "save API key"
	if err := ctx.Err(); err != nil {
		return &ddoauth.Error{Op: op, Err: err}
	}
	if key == nil {
		return &ddoauth.Error{Op: op, Err: errors.New("nil API key")}
	}
	b, err := s.codec.EncodeAPIKey(id, key)
	if err != nil {
		return &ddoauth.Error{Op: op, Err: err}
	}
	set, err := s.rdb.SetNX(ctx, s.apiKeyKey(id), b, 0).Result()
	switch {
	case err != nil:
		return fail(ctx, op, err)
	case !set:
		return conflict(op, "an API key is saved under this ID")
	}
	return nil
}
