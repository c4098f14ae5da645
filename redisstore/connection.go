package redisstore

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/ddoauth/ddoauth"
)

// Load returns the connection saved under id, with its Version and Fence
// set. It returns an error wrapping [ddoauth.ErrNotFound] if there is
// none, and one wrapping [ddoauth.ErrCorruptConnection] if the stored
// value does not open under Config.Keys or does not belong to id.
func (s *Store) Load(ctx context.Context, id string) (*ddoauth.Connection, error) {
	const op = "load connection"
	if err := ctx.Err(); err != nil {
		return nil, &ddoauth.Error{Op: op, Err: err}
	}
	key := s.connKey(id)
	vals, err := s.rdb.HMGet(ctx, key, "v", "f", "d").Result()
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	if vals[0] == nil && vals[1] == nil && vals[2] == nil {
		return nil, &ddoauth.Error{Op: op, Err: ddoauth.ErrNotFound}
	}
	v, verr := field(vals[0])
	f, ferr := field(vals[1])
	d, ok := vals[2].(string)
	if verr != nil || ferr != nil || !ok {
		return nil, &ddoauth.Error{Op: op, Err: ddoauth.ErrCorruptConnection, Description: "the record lacks its version, fence or value"}
	}
	conn, err := s.codec.DecodeConnection(id, []byte(d))
	if err != nil {
		return nil, &ddoauth.Error{Op: op, Err: err}
	}
	conn.Version, conn.Fence = v, f
	if s.codec.ResealNeeded("connection", id, []byte(d)) {
		if fresh, err := s.codec.EncodeConnection(id, conn); err == nil {
			s.reseal(ctx, key, "d", []byte(d), fresh)
		}
	}
	return conn, nil
}

func field(v any) (int64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, errors.New("missing")
	}
	return strconv.ParseInt(s, 10, 64)
}

// saveScript writes a connection if the record is at the version the
// writer read (0: absent) and no write under a newer lease landed on it.
// It returns the new version, 0 for a version conflict, -1 for a fence
// conflict.
//
// KEYS: record, counter. ARGV: version read, fence, value.
var saveScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'v', 'f')
local v = tonumber(cur[1]) or 0
local f = tonumber(cur[2]) or 0
if v ~= tonumber(ARGV[1]) then return 0 end
local fence = tonumber(ARGV[2])
if fence ~= 0 and fence < f then return -1 end
local n = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'v', n, 'f', math.max(f, fence), 'd', ARGV[3])
return n
`)

// Save writes conn under id if the record is still at conn.Version (zero:
// if there is none) and, when conn.Fence is not zero, no write with a
// higher fence has landed on it; then it sets conn.Version to the new
// version. Otherwise it writes nothing and returns an error wrapping
// [ddoauth.ErrConflict]. The value is sealed under the newest key.
func (s *Store) Save(ctx context.Context, id string, conn *ddoauth.Connection) error {
	const op = "save connection"
	if err := ctx.Err(); err != nil {
		return &ddoauth.Error{Op: op, Err: err}
	}
	if conn == nil {
		return &ddoauth.Error{Op: op, Err: errors.New("nil connection")}
	}
	b, err := s.codec.EncodeConnection(id, conn)
	if err != nil {
		return &ddoauth.Error{Op: op, Err: err}
	}
	n, err := saveScript.Run(ctx, s.rdb, []string{s.connKey(id), s.seq}, conn.Version, conn.Fence, b).Int64()
	switch {
	case err != nil:
		return fail(ctx, op, err)
	case n == 0:
		return conflict(op, "the record is not at the version read")
	case n < 0:
		return conflict(op, "a write under a newer lease landed")
	}
	conn.Version = n
	return nil
}

// deleteScript removes a record at the version the caller read. It
// returns 1 when it did, 0 for a version conflict, -1 when there is none.
//
// KEYS: record. ARGV: version.
var deleteScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if tonumber(v) ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
`)

// Delete removes the connection under id if it is at version. It returns
// an error wrapping [ddoauth.ErrConflict] if the record changed, and one
// wrapping [ddoauth.ErrNotFound] if there is none. The counter is kept,
// so a connection saved again under id gets new versions.
func (s *Store) Delete(ctx context.Context, id string, version int64) error {
	const op = "delete connection"
	if err := ctx.Err(); err != nil {
		return &ddoauth.Error{Op: op, Err: err}
	}
	n, err := deleteScript.Run(ctx, s.rdb, []string{s.connKey(id)}, version).Int64()
	switch {
	case err != nil:
		return fail(ctx, op, err)
	case n == 0:
		return conflict(op, "the record is not at the version read")
	case n < 0:
		return &ddoauth.Error{Op: op, Err: ddoauth.ErrNotFound}
	}
	return nil
}
