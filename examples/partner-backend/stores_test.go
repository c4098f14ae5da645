package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/pgtest"
	"github.com/ddoauth/ddoauth/internal/redistest"
	"github.com/ddoauth/ddoauth/pgstore"
	"github.com/ddoauth/ddoauth/redisstore"
)

// TestSharedStores connects an organization on a backend configured with
// DATABASE_URL, then with REDIS_URL, and reads the connection and its API
// key back through a store of its own, as another replica would.
func TestSharedStores(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	key[0] = 7
	env := map[string]string{"DDOAUTH_AUTOCONSENT": "1", "DDOAUTH_STORE_KEY": base64.StdEncoding.EncodeToString(key)}
	for _, tt := range []struct {
		name string
		open func(t *testing.T) (map[string]string, store)
	}{
		{"postgres", func(t *testing.T) (map[string]string, store) {
			dsn := pgtest.NewServer(t).NewDatabase(t)
			pool, err := pgxpool.New(t.Context(), dsn)
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			other, err := pgstore.New(pool, pgstore.Config{Keys: [][]byte{key}})
			require.NoError(t, err)
			return map[string]string{"DATABASE_URL": dsn}, other
		}},
		{"redis", func(t *testing.T) (map[string]string, store) {
			srv := redistest.Start(t)
			other, err := redisstore.New(srv.Client(t), redisstore.Config{Keys: [][]byte{key}})
			require.NoError(t, err)
			return map[string]string{"REDIS_URL": srv.URL()}, other
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			extra, other := tt.open(t)
			cfg := map[string]string{}
			for k, v := range env {
				cfg[k] = v
			}
			for k, v := range extra {
				cfg[k] = v
			}
			b, origin := start(t, cfg)
			c := userAgent(t)
			require.Equal(t, http.StatusOK, do(t, c, http.MethodPost, origin+"/signin", url.Values{"user": {"alice"}}).status)
			p := do(t, c, http.MethodGet, origin+"/oauth/datadog/onboarding?site=us5.datadoghq.com", nil)
			require.Equal(t, http.StatusOK, p.status, p.body)
			list, _ := connections(t, c, origin)
			require.Len(t, list, 1)
			assert.Equal(t, "connected", list[0]["status"])

			conn, err := other.Load(context.Background(), list[0]["id"].(string))
			require.NoError(t, err, "the connection is in the shared store")
			assert.Equal(t, "US5", conn.Site.Name())
			k, err := other.LoadAPIKey(context.Background(), "alice/us5.datadoghq.com")
			require.NoError(t, err)
			assert.Equal(t, list[0]["api_key_last4"], k.Last4)
			tok, err := b.client.TokenSource(other, list[0]["id"].(string)).TokenContext(context.Background())
			require.NoError(t, err)
			assert.Equal(t, conn.Token.AccessToken, tok.AccessToken)
		})
	}
	t.Run("no store key", func(t *testing.T) {
		t.Parallel()
		_, err := newBackend("http://127.0.0.1:1", func(k string) string {
			return map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}[k]
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "DDOAUTH_STORE_KEY")
	})
	var _ store = &ddoauth.MemoryStore{}
}
