package main

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/pgstore"
	"github.com/ddoauth/ddoauth/redisstore"
)

// store is where the backend keeps connections, API keys and the
// callback's used states. Replicas share one; its leases let one of them
// at a time refresh a connection or ask Datadog for an API key.
type store interface {
	ddoauth.Store
	ddoauth.Leaser
	ddoauth.APIKeyStore
	ddoauth.UsedStates
}

// openStore opens the store the environment names: Postgres with
// DATABASE_URL, Redis with REDIS_URL, otherwise memory (one process).
// The shared stores seal tokens and API keys under DDOAUTH_STORE_KEY.
// The returned function closes it.
func openStore(ctx context.Context, getenv func(string) string) (store, func(), error) {
	dsn, redisURL := getenv("DATABASE_URL"), getenv("REDIS_URL")
	if dsn == "" && redisURL == "" {
		return &ddoauth.MemoryStore{}, func() {}, nil
	}
	key, err := base64.StdEncoding.DecodeString(getenv("DDOAUTH_STORE_KEY"))
	if err != nil || len(key) != 32 {
		return nil, nil, errors.New("DATABASE_URL and REDIS_URL need DDOAUTH_STORE_KEY, 32 bytes in standard base64 (openssl rand -base64 32), to seal tokens at rest")
	}
	if dsn != "" {
		return openPostgres(ctx, dsn, key)
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, nil, errors.New("REDIS_URL does not parse as redis://[user:password@]host:port/db")
	}
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	s, err := redisstore.New(rdb, redisstore.Config{Keys: [][]byte{key}})
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return s, func() { rdb.Close() }, nil
}

func openPostgres(ctx context.Context, dsn string, key []byte) (store, func(), error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, nil, errors.New("DATABASE_URL does not parse as a Postgres connection string")
	}
	s, err := pgstore.New(pool, pgstore.Config{Keys: [][]byte{key}})
	if err == nil {
		err = s.Migrate(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return s, pool.Close, nil
}
