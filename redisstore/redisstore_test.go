package redisstore_test

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

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/redistest"
	"github.com/ddoauth/ddoauth/redisstore"
	"github.com/ddoauth/ddoauth/storetest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var (
	oldKey = bytes.Repeat([]byte{0x5a}, 32)
	newKey = bytes.Repeat([]byte{0xa5}, 32)
)

// open returns a store on srv under a prefix no other test uses.
func open(t testing.TB, srv *redistest.Server, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	if cfg.Keys == nil && !cfg.InsecurePlaintext {
		cfg.Keys = [][]byte{newKey}
	}
	cfg.Prefix = srv.Prefix(t)
	s, err := redisstore.New(srv.Client(t), cfg)
	require.NoError(t, err)
	return s
}

// corrupt writes garbage into a connection record's value field.
func corrupt(t *testing.T, s storetest.Store, id string) {
	rs := s.(*redisstore.Store)
	rdb, ctx := rs.Client(), t.Context()
	v, err := rdb.Incr(ctx, rs.SeqKey()).Result()
	require.NoError(t, err)
	require.NoError(t, rdb.HSet(ctx, rs.ConnKey(id), "v", v, "f", 0, "d", "not a sealed value").Err())
}

func TestStore(t *testing.T) {
	srv := redistest.Shared(t)
	storetest.Test(t, storetest.Config{
		Open:    func(t *testing.T) storetest.Store { return open(t, srv, redisstore.Config{}) },
		Corrupt: corrupt,
	})
}

func TestStorePlaintext(t *testing.T) {
	srv := redistest.Shared(t)
	storetest.Test(t, storetest.Config{
		Open: func(t *testing.T) storetest.Store {
			return open(t, srv, redisstore.Config{InsecurePlaintext: true})
		},
		Corrupt: corrupt,
	})
}

func TestNew(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { rdb.Close() })
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { cluster.Close() })
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	t.Cleanup(func() { ring.Close() })
	short := []byte("0123456789abcdef")

	for _, tc := range []struct {
		name string
		rdb  redis.UniversalClient
		cfg  redisstore.Config
		ok   bool
	}{
		{"keys", rdb, redisstore.Config{Keys: [][]byte{newKey, oldKey}}, true},
		{"insecure plaintext", rdb, redisstore.Config{InsecurePlaintext: true}, true},
		{"no keys", rdb, redisstore.Config{}, false},
		{"empty keys", rdb, redisstore.Config{Keys: [][]byte{}}, false},
		{"short key", rdb, redisstore.Config{Keys: [][]byte{newKey, short}}, false},
		{"all-zero key", rdb, redisstore.Config{Keys: [][]byte{newKey, make([]byte, 32)}}, false},
		{"repeated key", rdb, redisstore.Config{Keys: [][]byte{newKey, newKey}}, false},
		{"keys and plaintext", rdb, redisstore.Config{Keys: [][]byte{newKey}, InsecurePlaintext: true}, false},
		{"no client", nil, redisstore.Config{Keys: [][]byte{newKey}}, false},
		{"cluster", cluster, redisstore.Config{Keys: [][]byte{newKey}}, false},
		{"ring", ring, redisstore.Config{Keys: [][]byte{newKey}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := redisstore.New(tc.rdb, tc.cfg)
			if tc.ok {
				require.NoError(t, err)
				assert.NotNil(t, s)
				return
			}
			require.ErrorIs(t, err, ddoauth.ErrInvalidConfig)
			var e *ddoauth.Error
			require.ErrorAs(t, err, &e)
			assert.Nil(t, s)
			for _, k := range [][]byte{newKey, short} {
				assert.NotContains(t, err.Error(), string(k))
				assert.NotContains(t, err.Error(), hex.EncodeToString(k))
			}
		})
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Password: "redis-password-do-not-print"})
	t.Cleanup(func() { rdb.Close() })
	s, err := redisstore.New(rdb, redisstore.Config{Prefix: "tenant-a:", Keys: [][]byte{newKey, oldKey}})
	require.NoError(t, err)

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("store", "store", s)
	outs := []string{logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s), fmt.Sprintf(verb, []any{s}))
	}
	for _, out := range outs {
		assert.Contains(t, out, "tenant-a:")
		assert.Contains(t, out, "sealed")
		assert.NotContains(t, out, "redis-password-do-not-print")
		for _, k := range [][]byte{newKey, oldKey} {
			for _, form := range []string{string(k), hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k),
				strings.Trim(fmt.Sprint(k), "[]"), fmt.Sprintf("%#v", k)[len("[]byte{"):20]} {
				assert.NotContains(t, out, form)
			}
		}
	}
	assert.Equal(t, `redisstore.Store{prefix:"tenant-a:" sealed:true}`, fmt.Sprint(s))
}

// fixture returns a connection and an API key whose secrets are easy to
// look for in raw bytes.
func fixture(t testing.TB) (*ddoauth.Connection, *ddoauth.APIKey) {
	t.Helper()
	site, err := ddoauth.ResolveSite("datadoghq.eu")
	require.NoError(t, err)
	conn := &ddoauth.Connection{
		Site: site,
		Token: &oauth2.Token{AccessToken: "access-token-in-the-clear", RefreshToken: "refresh-token-in-the-clear",
			TokenType: "Bearer", Expiry: time.Now().Add(time.Hour).Round(time.Second)},
		Scopes:  []string{"api_keys_write"},
		Created: time.Now().Round(time.Second),
	}
	key := &ddoauth.APIKey{ID: "key-1", Name: "OAuth Client API Key", Key: "api-key-in-the-clear-0123456789ab",
		Last4: "89ab", Site: site, Created: time.Now().Round(time.Second)}
	return conn, key
}

// raw returns the stored bytes of the connection and API key under id.
func raw(t *testing.T, s *redisstore.Store, id string) (conn, key []byte) {
	t.Helper()
	ctx := t.Context()
	conn, err := s.Client().HGet(ctx, s.ConnKey(id), "d").Bytes()
	require.NoError(t, err)
	key, err = s.Client().Get(ctx, s.APIKeyKey(id)).Bytes()
	require.NoError(t, err)
	return conn, key
}

func secretsIn(b []byte) []string {
	var found []string
	for _, sec := range []string{"access-token-in-the-clear", "refresh-token-in-the-clear", "api-key-in-the-clear"} {
		if bytes.Contains(b, []byte(sec)) {
			found = append(found, sec)
		}
	}
	return found
}

func TestSealedAtRest(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	for _, tc := range []struct {
		name  string
		cfg   redisstore.Config
		clear bool
	}{
		{"sealed", redisstore.Config{Keys: [][]byte{newKey}}, false},
		// The positive control: the search finds secrets stored in clear.
		{"insecure plaintext", redisstore.Config{InsecurePlaintext: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, ctx := open(t, srv, tc.cfg), t.Context()
			conn, key := fixture(t)
			require.NoError(t, s.Save(ctx, "tenant-1", conn))
			require.NoError(t, s.SaveAPIKey(ctx, "tenant-1", key))
			rc, rk := raw(t, s, "tenant-1")
			// Everything the store wrote, keys and values.
			var all []byte
			for _, k := range s.Client().Keys(ctx, "*").Val() {
				all = append(append(all, k...), s.Client().Dump(ctx, k).Val()...)
			}
			if tc.clear {
				assert.Len(t, secretsIn(rc), 2)
				assert.Len(t, secretsIn(rk), 1)
				return
			}
			assert.Empty(t, secretsIn(rc))
			assert.Empty(t, secretsIn(rk))
			assert.Empty(t, secretsIn(all))
		})
	}
}

func TestValueBoundToID(t *testing.T) {
	t.Parallel()
	s, ctx := open(t, redistest.Shared(t), redisstore.Config{}), t.Context()
	conn, key := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-a", conn))
	require.NoError(t, s.SaveAPIKey(ctx, "tenant-a", key))
	rc, rk := raw(t, s, "tenant-a")

	// Another tenant's row, given tenant-a's sealed values.
	rdb := s.Client()
	require.NoError(t, rdb.HSet(ctx, s.ConnKey("tenant-b"), "v", conn.Version, "f", 0, "d", rc).Err())
	require.NoError(t, rdb.Set(ctx, s.APIKeyKey("tenant-b"), rk, 0).Err())

	_, err := s.Load(ctx, "tenant-b")
	require.ErrorIs(t, err, ddoauth.ErrCorruptConnection)
	assert.Empty(t, secretsIn([]byte(err.Error())))
	_, err = s.LoadAPIKey(ctx, "tenant-b")
	require.ErrorIs(t, err, ddoauth.ErrCorruptConnection)

	// The values still open where they belong.
	got, err := s.Load(ctx, "tenant-a")
	require.NoError(t, err)
	assert.Equal(t, conn.Token.RefreshToken, got.Token.RefreshToken)
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, s *redisstore.Store, id string) // the first read or write after the rotation
	}{
		{"next write", func(t *testing.T, s *redisstore.Store, id string) {
			conn, err := s.Load(t.Context(), id)
			require.NoError(t, err)
			require.NoError(t, s.Save(t.Context(), id, conn))
		}},
		{"next read", func(t *testing.T, s *redisstore.Store, id string) {
			before, _ := raw(t, s, id)
			conn, err := s.Load(t.Context(), id)
			require.NoError(t, err)
			after, _ := raw(t, s, id)
			assert.NotEqual(t, before, after)
			// Sealing again is no write: the version stays.
			again, err := s.Load(t.Context(), id)
			require.NoError(t, err)
			assert.Equal(t, conn.Version, again.Version)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, prefix := t.Context(), srv.Prefix(t)
			rdb := srv.Client(t)
			at := func(cfg redisstore.Config) *redisstore.Store {
				cfg.Prefix = prefix
				s, err := redisstore.New(rdb, cfg)
				require.NoError(t, err)
				return s
			}
			old := at(redisstore.Config{Keys: [][]byte{oldKey}})
			rotated := at(redisstore.Config{Keys: [][]byte{newKey, oldKey}})
			retired := at(redisstore.Config{Keys: [][]byte{newKey}})

			conn, key := fixture(t)
			require.NoError(t, old.Save(ctx, "tenant-1", conn))
			require.NoError(t, old.SaveAPIKey(ctx, "tenant-1", key))
			_, err := retired.Load(ctx, "tenant-1")
			require.ErrorIs(t, err, ddoauth.ErrCorruptConnection, "a value under the old key must not open under the new one alone")

			tc.write(t, rotated, "tenant-1")
			_, err = rotated.LoadAPIKey(ctx, "tenant-1")
			require.NoError(t, err)

			got, err := retired.Load(ctx, "tenant-1")
			require.NoError(t, err)
			assert.Equal(t, conn.Token.RefreshToken, got.Token.RefreshToken)
			gotKey, err := retired.LoadAPIKey(ctx, "tenant-1")
			require.NoError(t, err)
			assert.Equal(t, key.Key, gotKey.Key)
		})
	}
}

func TestPlaintextSealedOnRead(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	ctx, prefix := t.Context(), srv.Prefix(t)
	rdb := srv.Client(t)
	clear, err := redisstore.New(rdb, redisstore.Config{Prefix: prefix, InsecurePlaintext: true})
	require.NoError(t, err)
	sealed, err := redisstore.New(rdb, redisstore.Config{Prefix: prefix, Keys: [][]byte{newKey}})
	require.NoError(t, err)

	conn, key := fixture(t)
	require.NoError(t, clear.Save(ctx, "tenant-1", conn))
	require.NoError(t, clear.SaveAPIKey(ctx, "tenant-1", key))
	got, err := sealed.Load(ctx, "tenant-1")
	require.NoError(t, err)
	assert.Equal(t, conn.Version, got.Version)
	_, err = sealed.LoadAPIKey(ctx, "tenant-1")
	require.NoError(t, err)

	rc, rk := raw(t, sealed, "tenant-1")
	assert.Empty(t, secretsIn(rc))
	assert.Empty(t, secretsIn(rk))
}

// The conflict a caller sees says which condition failed, never a value.
func TestConflictErrors(t *testing.T) {
	t.Parallel()
	s, ctx := open(t, redistest.Shared(t), redisstore.Config{}), context.Background()
	conn, key := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-1", conn))
	require.NoError(t, s.SaveAPIKey(ctx, "tenant-1", key))

	stale := *conn
	stale.Version--
	err := s.Save(ctx, "tenant-1", &stale)
	require.ErrorIs(t, err, ddoauth.ErrConflict)
	err2 := s.SaveAPIKey(ctx, "tenant-1", key)
	require.ErrorIs(t, err2, ddoauth.ErrConflict)
	for _, e := range []error{err, err2} {
		assert.Empty(t, secretsIn([]byte(fmt.Sprintf("%v %+v %#v", e, e, e))))
	}
}
