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

// redisFleet starts a Redis of t's own and returns the fleet's store in it.
func redisFleet(t *testing.T) (*sharedStore, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	key := rand.Text() + rand.Text()[:6] // 32 bytes
	cfg := childConfig{Backend: "redis", Store: srv.URL(), Prefix: srv.Prefix(t), Key: []byte(key)}
	store, closeStore, err := openChildStore(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(closeStore)
	return &sharedStore{store: store, child: cfg}, srv
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
