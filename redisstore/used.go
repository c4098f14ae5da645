package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ddoauth/ddoauth"
)

// Use records key until expires, by the Redis server's clock, and reports
// whether it was not recorded yet (SET NX PXAT). A key whose record
// expired may be used again.
func (s *Store) Use(ctx context.Context, key string, expires time.Time) (bool, error) {
	const op = "use state"
	if err := ctx.Err(); err != nil {
		return false, &ddoauth.Error{Op: op, Err: err}
	}
	// PXAT must be positive; a time at or before 1970 is long past anyway.
	at := max(expires.UnixMilli(), 1)
	err := s.rdb.Do(ctx, "set", s.usedKey(key), 1, "nx", "pxat", at).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fail(ctx, op, err)
	}
	return true, nil
}
