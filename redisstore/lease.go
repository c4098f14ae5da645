package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ddoauth/ddoauth"
)

// leaseScript gives the lease to an owner if it is free (absent: Redis
// removed it when it expired) or the owner's already, with a new fence.
// It returns the fence, or 0 when another owner holds the lease.
//
// KEYS: lease, counter. ARGV: owner, ttl in milliseconds.
var leaseScript = redis.NewScript(`
local o = redis.call('HGET', KEYS[1], 'o')
if o and o ~= ARGV[1] then return 0 end
local n = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'f', n)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
`)

// Lease gives the lease on name to owner for ttl if it is free, expired
// or owner's already, and returns a fence larger than every one given
// before. It returns an error wrapping [ddoauth.ErrLeaseHeld] if another
// owner holds it. The lease expires by the Redis server's clock; ttl is
// rounded up to a millisecond.
func (s *Store) Lease(ctx context.Context, name, owner string, ttl time.Duration) (int64, error) {
	const op = "lease"
	if err := ctx.Err(); err != nil {
		return 0, &ddoauth.Error{Op: op, Err: err}
	}
	ms := max((ttl+time.Millisecond-1)/time.Millisecond, 1)
	fence, err := leaseScript.Run(ctx, s.rdb, []string{s.leaseKey(name), s.seq}, owner, int64(ms)).Int64()
	switch {
	case err != nil:
		return 0, fail(ctx, op, err)
	case fence == 0:
		return 0, &ddoauth.Error{Op: op, Err: ddoauth.ErrLeaseHeld}
	}
	return fence, nil
}

// releaseScript deletes a lease if the owner holds it.
//
// KEYS: lease. ARGV: owner.
var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Release ends owner's lease on name. It does nothing if owner does not
// hold it, so a holder whose lease expired cannot end its successor's.
func (s *Store) Release(ctx context.Context, name, owner string) error {
	const op = "release lease"
	if err := ctx.Err(); err != nil {
		return &ddoauth.Error{Op: op, Err: err}
	}
	if err := releaseScript.Run(ctx, s.rdb, []string{s.leaseKey(name)}, owner).Err(); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}
