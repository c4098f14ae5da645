// Package redisstore keeps ddoauth's connections, leases, API keys and
// used authorization states in Redis, for a fleet of replicas. A [Store]
// is a [ddoauth.Store], [ddoauth.Leaser], [ddoauth.APIKeyStore] and
// [ddoauth.UsedStates].
//
// Every conditional operation is one Lua script, so it is atomic on the
// server. Versions and lease fences come from one counter key that is
// never reset, so a number is never given twice, even to a record that
// was deleted and created again. Leases expire by the Redis server's
// clock, never a replica's.
//
// # What Redis it needs
//
// One Redis, or a primary with replicas (through Sentinel, say), that
// persists: `appendonly yes`. With `appendfsync everysec` a crash of the
// machine loses up to a second of writes, tokens refreshed in it
// included; `appendfsync always` makes every write durable before it is
// acknowledged. A Redis that restarts empty has lost the connections, and
// its counter starts again, so versions and fences repeat. Keys must not
// be evicted: set `maxmemory-policy noeviction` if maxmemory is set.
//
// Not Redis Cluster: the counter is one key, which every write touches
// with the record, and a script's keys must share one hash slot there. New
// refuses a *redis.ClusterClient and a *redis.Ring.
//
// Give the client ContextTimeoutEnabled: without it go-redis does not
// bound a call to a Redis that hangs by the call's context, but by
// ReadTimeout (3s by default), and then retries. Even with it, go-redis
// bounds a blocked read by the context's deadline, not its cancellation:
// give calls a deadline.
//
// go-redis retries a command whose connection broke, after which a Save
// or SaveAPIKey that did land reports ErrConflict: the caller reads again
// and finds its own write, as after any conflict.
//
// # Keys
//
// Under Config.Prefix (default "ddoauth:"):
//
//	seq                the counter of versions and fences
//	conn:{<id>}        a connection: hash of v (version), f (highest fence written), d (sealed value)
//	lease:{<name>}     a lease: hash of o (owner) and f (fence), expiring with the lease
//	apikey:{<id>}      an API key: its sealed value
//	used:<key>         a used authorization state, expiring with it
//
// Values are sealed with AES-256-GCM under Config.Keys and bound to their
// ID, so that a value copied under another ID does not open. A value
// sealed under an older key, or stored in clear, is sealed again under
// the newest key when it is next read or written.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/record"
)

// DefaultPrefix is the key prefix of a Config without one.
const DefaultPrefix = "ddoauth:"

// Config configures a Store.
type Config struct {
	// Prefix starts every key the Store uses; empty means DefaultPrefix.
	// Stores with different prefixes share nothing.
	Prefix string

	// Keys seal the stored values: 32 random bytes each, newest first.
	// Values are sealed under the first and open under any, so a key is
	// retired by putting a new one first and removing the old one once
	// every record was read or written again. New refuses a repeated or
	// all-zero key.
	Keys [][]byte

	// InsecurePlaintext stores tokens and API keys in clear when Keys is
	// empty. It MUST NOT be used in production: anyone who can read the
	// Redis (or its files, or a backup) can then use every connection.
	InsecurePlaintext bool
}

// Store is a ddoauth store in Redis. It is safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	codec  *record.Codec
	prefix string
	seq    string // the counter's key
}

// Compile-time checks of the contracts Store meets.
var (
	_ ddoauth.Store       = (*Store)(nil)
	_ ddoauth.Leaser      = (*Store)(nil)
	_ ddoauth.APIKeyStore = (*Store)(nil)
	_ ddoauth.UsedStates  = (*Store)(nil)
)

// New returns a Store using rdb, which the caller keeps and closes. It
// returns an error wrapping [ddoauth.ErrInvalidConfig] when rdb is nil, a
// Redis Cluster or Ring client, when cfg has no keys and not
// InsecurePlaintext, or when a key is not 32 bytes.
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	invalid := func(err error) error {
		return &ddoauth.Error{Op: "new redis store", Err: fmt.Errorf("%w: %w", ddoauth.ErrInvalidConfig, err)}
	}
	switch rdb.(type) {
	case nil:
		return nil, invalid(errors.New("no redis client"))
	case *redis.ClusterClient, *redis.Ring:
		return nil, invalid(errors.New("redis cluster and ring clients are not supported: the version counter is one key"))
	}
	codec, err := record.New(cfg.Keys, cfg.InsecurePlaintext)
	if err != nil {
		return nil, invalid(err)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{rdb: rdb, codec: codec, prefix: prefix, seq: prefix + "seq"}, nil
}

// Format prints the store's prefix and whether it seals, never a key or a
// value, for every verb.
func (s Store) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "redisstore.Store{prefix:%q sealed:%t}", s.prefix, s.codec.Sealed())
}

// LogValue logs what Format prints.
func (s Store) LogValue() slog.Value {
	return slog.GroupValue(slog.String("prefix", s.prefix), slog.Bool("sealed", s.codec.Sealed()))
}

func (s *Store) connKey(id string) string    { return s.prefix + "conn:{" + id + "}" }
func (s *Store) leaseKey(name string) string { return s.prefix + "lease:{" + name + "}" }
func (s *Store) apiKeyKey(id string) string  { return s.prefix + "apikey:{" + id + "}" }
func (s *Store) usedKey(key string) string   { return s.prefix + "used:" + key }

// fail wraps a failed call. A call that failed because ctx ended, with
// whatever error the network gave, also wraps ctx's error; redis.Nil is
// ErrNotFound. Redis's errors carry no argument of the command, so no
// value reaches the message.
func fail(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, redis.Nil):
		err = ddoauth.ErrNotFound
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	case pastDeadline(ctx) && !errors.Is(err, context.DeadlineExceeded):
		// The connection's read deadline, set from ctx's, can fire
		// before ctx's own timer has ended it.
		err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return &ddoauth.Error{Op: op, Err: err}
}

func pastDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// conflict is the error of a conditional write that did not land.
func conflict(op, why string) error {
	return &ddoauth.Error{Op: op, Err: ddoauth.ErrConflict, Description: why}
}

// reseal replaces the sealed value old of kind under id, in the field of
// a hash (connections) or the string at key (API keys), by one sealed
// under the newest key, unless it changed meanwhile. It is best effort:
// the read that found old succeeded, and the next try is the next read.
func (s *Store) reseal(ctx context.Context, key, field string, old, fresh []byte) {
	resealScript.Run(ctx, s.rdb, []string{key}, field, old, fresh) //nolint:errcheck // best effort, see above
}

var resealScript = redis.NewScript(`
local cur
if ARGV[1] == '' then cur = redis.call('GET', KEYS[1]) else cur = redis.call('HGET', KEYS[1], ARGV[1]) end
if cur ~= ARGV[2] then return 0 end
if ARGV[1] == '' then redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL') else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`)
