package fleet

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/redistest"
	"github.com/ddoauth/ddoauth/redisstore"
)

// redisFleet returns the fleet's store in srv, under a prefix of its own.
func redisFleet(t *testing.T, srv *redistest.Server) *sharedStore {
	t.Helper()
	cfg := childConfig{Backend: "redis", Store: srv.URL(), Prefix: srv.Prefix(t), Key: sealingKey()}
	store, closeStore, err := openChildStore(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(closeStore)
	return &sharedStore{store: store, child: cfg}
}

// openRedis opens the store a fleet process shares over Redis.
func openRedis(_ context.Context, cfg childConfig) (ddoauth.Store, func(), error) {
	opts, err := redis.ParseURL(cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	// Redis 7.0 does not know go-redis's maintenance notifications.
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	rdb := redis.NewClient(opts)
	store, err := redisstore.New(rdb, redisstore.Config{Prefix: cfg.Prefix, Keys: [][]byte{cfg.Key}})
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return store, func() { rdb.Close() }, nil
}

// sealingKey returns a new 32-byte key for the store's records.
func sealingKey() []byte {
	key := make([]byte, 32)
	rand.Read(key)
	return key
}
