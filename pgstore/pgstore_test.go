package pgstore_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/pgtest"
	"github.com/ddoauth/ddoauth/internal/record"
	"github.com/ddoauth/ddoauth/pgstore"
	"github.com/ddoauth/ddoauth/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	oldKey = bytes.Repeat([]byte{0x5a}, 32)
	newKey = bytes.Repeat([]byte{0xa5}, 32)
)

// newPool returns a pool on a database of its own on srv, closed when tb
// ends.
func newPool(tb testing.TB, srv *pgtest.Server) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), srv.NewDatabase(tb))
	require.NoError(tb, err)
	tb.Cleanup(pool.Close)
	return pool
}

// open returns a migrated store on pool, sealing under newKey unless cfg
// says otherwise.
func open(tb testing.TB, pool *pgxpool.Pool, cfg pgstore.Config) *pgstore.Store {
	tb.Helper()
	if cfg.Keys == nil && !cfg.InsecurePlaintext {
		cfg.Keys = [][]byte{newKey}
	}
	s, err := pgstore.New(pool, cfg)
	require.NoError(tb, err)
	require.NoError(tb, s.Migrate(context.Background()))
	return s
}

// corrupt writes garbage into a connection record's value.
func corrupt(t *testing.T, s storetest.Store, id string) {
	_, err := s.(*pgstore.Store).Pool().Exec(t.Context(),
		`INSERT INTO ddoauth_connections (id, version, value) VALUES ($1, nextval('ddoauth_seq'), $2)`, id, []byte("\x00not a sealed value"))
	require.NoError(t, err)
}

func TestStore(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	storetest.Test(t, storetest.Config{
		Open:    func(t *testing.T) storetest.Store { return open(t, newPool(t, srv), pgstore.Config{}) },
		Corrupt: corrupt,
	})
}

func TestStoreInsecurePlaintext(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	storetest.Test(t, storetest.Config{
		Open: func(t *testing.T) storetest.Store {
			return open(t, newPool(t, srv), pgstore.Config{InsecurePlaintext: true})
		},
		Corrupt: corrupt,
	})
}

func fixture(tb testing.TB) (*ddoauth.Connection, *ddoauth.APIKey) {
	tb.Helper()
	site, err := ddoauth.ResolveSite("datadoghq.eu")
	require.NoError(tb, err)
	now := time.Now().Truncate(time.Second)
	conn := &ddoauth.Connection{Site: site, Created: now, Scopes: []string{"api_keys_write"},
		Token: &oauth2.Token{AccessToken: "pgstore-secret-access-token", RefreshToken: "pgstore-secret-refresh-token",
			TokenType: "Bearer", Expiry: now.Add(time.Hour)}}
	key := &ddoauth.APIKey{ID: "key-1", Name: "OAuth Client API Key", Key: "pgstore-secret-api-key-0123456789",
		Last4: "6789", Created: now, Site: site}
	return conn, key
}

func TestNew(t *testing.T) {
	t.Parallel()
	// No server needed: the pool dials on first use.
	pool, err := pgxpool.New(t.Context(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	for _, c := range []struct {
		name string
		pool *pgxpool.Pool
		cfg  pgstore.Config
	}{
		{"no keys", pool, pgstore.Config{}},
		{"empty keys", pool, pgstore.Config{Keys: [][]byte{}}},
		{"short key", pool, pgstore.Config{Keys: [][]byte{make([]byte, 16)}}},
		{"all-zero key", pool, pgstore.Config{Keys: [][]byte{make([]byte, 32)}}},
		{"repeated key", pool, pgstore.Config{Keys: [][]byte{newKey, oldKey, newKey}}},
		{"keys and plaintext", pool, pgstore.Config{Keys: [][]byte{newKey}, InsecurePlaintext: true}},
		{"no pool", nil, pgstore.Config{Keys: [][]byte{newKey}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, err := pgstore.New(c.pool, c.cfg)
			require.ErrorIs(t, err, ddoauth.ErrInvalidConfig)
			assert.Nil(t, s)
			var de *ddoauth.Error
			assert.ErrorAs(t, err, &de)
			if c.name == "no keys" || c.name == "empty keys" {
				assert.ErrorIs(t, err, record.ErrNoKey)
			}
		})
	}
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	pool := newPool(t, pgtest.Start(t))
	s := open(t, pool, pgstore.Config{})
	ctx := t.Context()
	conn, _ := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-1", conn))

	require.NoError(t, s.Migrate(ctx), "a second Migrate")
	_, err := pool.Exec(ctx, pgstore.Schema)
	require.NoError(t, err, "Schema applied by hand over a migrated database")
	got, err := s.Load(ctx, "tenant-1")
	require.NoError(t, err, "records survive")
	assert.Equal(t, conn.Version, got.Version)

	// Replicas that start together all migrate.
	fresh := newPool(t, pgtest.Start(t))
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- open(t, fresh, pgstore.Config{}).Migrate(ctx) }()
	}
	for range 4 {
		assert.NoError(t, <-errs)
	}
}

// raw returns the stored bytes of a table's value column.
func raw(t *testing.T, pool *pgxpool.Pool, table, id string) []byte {
	t.Helper()
	var b []byte
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT value FROM "+table+" WHERE id = $1", id).Scan(&b))
	return b
}

// contains reports whether b holds secret in clear or in a common encoding.
func contains(b []byte, secret string) bool {
	for _, form := range []string{secret, hex.EncodeToString([]byte(secret)), base64.StdEncoding.EncodeToString([]byte(secret))} {
		if bytes.Contains(b, []byte(form)) {
			return true
		}
	}
	return false
}

func TestSealedAtRest(t *testing.T) {
	t.Parallel()
	pool := newPool(t, pgtest.Start(t))
	s, ctx := open(t, pool, pgstore.Config{}), t.Context()
	conn, key := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-1", conn))
	require.NoError(t, s.SaveAPIKey(ctx, "tenant-1", key))

	stored := raw(t, pool, "ddoauth_connections", "tenant-1")
	assert.False(t, contains(stored, conn.Token.AccessToken), "access token in clear")
	assert.False(t, contains(stored, conn.Token.RefreshToken), "refresh token in clear")
	assert.False(t, contains(raw(t, pool, "ddoauth_api_keys", "tenant-1"), key.Key), "API key in clear")

	// Positive control: in clear, the same check finds them.
	clear := open(t, newPool(t, pgtest.Start(t)), pgstore.Config{InsecurePlaintext: true})
	conn.Version = 0
	require.NoError(t, clear.Save(ctx, "tenant-1", conn))
	assert.True(t, contains(raw(t, clear.Pool(), "ddoauth_connections", "tenant-1"), conn.Token.RefreshToken))
}

// A value copied into another row's ID does not open there.
func TestValueBoundToID(t *testing.T) {
	t.Parallel()
	pool := newPool(t, pgtest.Start(t))
	s, ctx := open(t, pool, pgstore.Config{}), t.Context()
	conn, key := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-1", conn))
	require.NoError(t, s.SaveAPIKey(ctx, "tenant-1", key))
	other, _ := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-2", other))

	_, err := pool.Exec(ctx, `UPDATE ddoauth_connections SET value = (SELECT value FROM ddoauth_connections WHERE id = 'tenant-1') WHERE id = 'tenant-2'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO ddoauth_api_keys (id, value) SELECT 'tenant-2', value FROM ddoauth_api_keys WHERE id = 'tenant-1'`)
	require.NoError(t, err)

	_, err = s.Load(ctx, "tenant-2")
	assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection)
	assert.NotErrorIs(t, err, ddoauth.ErrNotFound)
	_, err = s.LoadAPIKey(ctx, "tenant-2")
	assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection)
	_, err = s.Load(ctx, "tenant-1")
	assert.NoError(t, err, "the original still opens")
}

// opens reports whether b opens under keys alone.
func opens(t *testing.T, kind, id string, b []byte, keys ...[]byte) bool {
	t.Helper()
	c, err := record.New(keys, false)
	require.NoError(t, err)
	if kind == "apikey" {
		_, err = c.DecodeAPIKey(id, b)
	} else {
		_, err = c.DecodeConnection(id, b)
	}
	return err == nil
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	pool := newPool(t, pgtest.Start(t))
	ctx := t.Context()
	before := open(t, pool, pgstore.Config{Keys: [][]byte{oldKey}})
	conn, key := fixture(t)
	require.NoError(t, before.Save(ctx, "tenant-1", conn))
	require.NoError(t, before.Save(ctx, "tenant-2", &ddoauth.Connection{Site: conn.Site, Token: conn.Token}))
	require.NoError(t, before.SaveAPIKey(ctx, "tenant-1", key))
	require.True(t, opens(t, "connection", "tenant-1", raw(t, pool, "ddoauth_connections", "tenant-1"), oldKey))

	after := open(t, pool, pgstore.Config{Keys: [][]byte{newKey, oldKey}})
	got, err := after.Load(ctx, "tenant-1")
	require.NoError(t, err, "a value under the old key opens after rotation")
	assert.Equal(t, conn.Token.RefreshToken, got.Token.RefreshToken)
	assert.Equal(t, conn.Version, got.Version, "sealing again on read keeps the version")

	t.Run("rewritten", func(t *testing.T) {
		got.Token.AccessToken = "pgstore-secret-access-token-2"
		require.NoError(t, after.Save(ctx, "tenant-1", got))
		b := raw(t, pool, "ddoauth_connections", "tenant-1")
		assert.True(t, opens(t, "connection", "tenant-1", b, newKey))
		assert.False(t, opens(t, "connection", "tenant-1", b, oldKey))
	})
	t.Run("read only", func(t *testing.T) {
		// tenant-2 and the API key are only read: the read seals them again.
		_, err := after.Load(ctx, "tenant-2")
		require.NoError(t, err)
		_, err = after.LoadAPIKey(ctx, "tenant-1")
		require.NoError(t, err)
		assert.True(t, opens(t, "connection", "tenant-2", raw(t, pool, "ddoauth_connections", "tenant-2"), newKey))
		assert.True(t, opens(t, "apikey", "tenant-1", raw(t, pool, "ddoauth_api_keys", "tenant-1"), newKey))
	})
	t.Run("old key retired", func(t *testing.T) {
		retired := open(t, pool, pgstore.Config{Keys: [][]byte{newKey}})
		for _, id := range []string{"tenant-1", "tenant-2"} {
			_, err := retired.Load(ctx, id)
			assert.NoError(t, err, id)
		}
		_, err := retired.LoadAPIKey(ctx, "tenant-1")
		assert.NoError(t, err)
	})
}

func TestFormat(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	cfg, err := pgxpool.ParseConfig(srv.NewDatabase(t))
	require.NoError(t, err)
	const password = "pgstore-secret-password"
	cfg.ConnConfig.Password = password
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s, ctx := open(t, pool, pgstore.Config{}), t.Context()
	conn, key := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-1", conn))
	require.NoError(t, s.SaveAPIKey(ctx, "tenant-1", key))

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("store", "store", s)
	outs := []string{logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outs = append(outs, fmt.Sprintf(verb, s))
	}
	for _, out := range outs {
		assert.Contains(t, out, cfg.ConnConfig.Database)
		for _, secret := range []string{password, conn.Token.AccessToken, conn.Token.RefreshToken, key.Key, string(newKey)} {
			assert.NotContains(t, out, secret)
		}
		assert.False(t, strings.Contains(out, hex.EncodeToString(newKey)), "sealing key in %q", out)
	}
}

// Use drops expired states now and then, and keeps the live ones.
func TestUsedStatesSwept(t *testing.T) {
	t.Parallel()
	pool := newPool(t, pgtest.Start(t))
	s, ctx := open(t, pool, pgstore.Config{}), t.Context()
	_, err := pool.Exec(ctx, `INSERT INTO ddoauth_used_states (key, expires_at) VALUES ('expired', now() - interval '1 second')`)
	require.NoError(t, err)

	first, err := s.Use(ctx, "live", time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.True(t, first)
	var keys []string
	rows, err := pool.Query(ctx, "SELECT key FROM ddoauth_used_states ORDER BY key")
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"live"}, keys)
}
