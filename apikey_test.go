package ddoauth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// flakyKeyStore fails SaveAPIKey the first failures times (negative: always).
type flakyKeyStore struct {
	ddoauth.MemoryStore
	failures int32
	saves    atomic.Int32
	loadErr  error
}

var errStoreDown = errors.New("store unavailable")

func (s *flakyKeyStore) SaveAPIKey(ctx context.Context, id string, k *ddoauth.APIKey) error {
	n := s.saves.Add(1)
	if s.failures < 0 || n <= s.failures {
		return errStoreDown
	}
	return s.MemoryStore.SaveAPIKey(ctx, id, k)
}

func (s *flakyKeyStore) LoadAPIKey(ctx context.Context, id string) (*ddoauth.APIKey, error) {
	if s.loadErr != nil {
		return nil, s.loadErr
	}
	return s.MemoryStore.LoadAPIKey(ctx, id)
}

func TestEnsureAPIKeyAsksDatadogOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, store := inMemory(t, ddoauth.Sites()[4])
		conn, err := store.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		first, err := c.EnsureAPIKey(t.Context(), conn, store, "tenant-1")
		require.NoError(t, err)
		again, err := c.EnsureAPIKey(t.Context(), conn, store, "tenant-1")
		require.NoError(t, err)
		assert.Equal(t, first.Key, again.Key)
		assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointAPIKey))
		assert.Len(t, first.Key, 32)
		held, ok := dd.APIKey(dd.DefaultOrg(ddoauth.Sites()[4]).ID)
		require.True(t, ok)
		assert.Equal(t, held.Last4, first.Last4)
	})
}

func TestEnsureAPIKeyStoreFailingOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, mem := inMemory(t, ddoauth.Sites()[0])
		conn, err := mem.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		store := &flakyKeyStore{failures: 1}
		key, err := c.EnsureAPIKey(t.Context(), conn, store, "tenant-1")
		require.NoError(t, err)
		assert.Equal(t, int32(2), store.saves.Load())
		saved, err := store.LoadAPIKey(t.Context(), "tenant-1")
		require.NoError(t, err)
		assert.Equal(t, key.Key, saved.Key)
		assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointAPIKey))
	})
}

func TestEnsureAPIKeyStoreFailingAlways(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, mem := inMemory(t, ddoauth.Sites()[6])
		conn, err := mem.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		var logs bytes.Buffer
		store := &flakyKeyStore{failures: -1}
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		_, err = c.EnsureAPIKey(ctx, conn, store, "tenant-1")
		cancel()
		var notSaved *ddoauth.APIKeyNotSavedError
		require.ErrorAs(t, err, &notSaved)
		require.ErrorIs(t, err, errStoreDown)
		assert.Equal(t, int32(4), store.saves.Load(), "saving is retried")
		assert.Greater(t, time.Since(start), time.Duration(0), "with backoff")
		key := notSaved.Key()
		require.NotNil(t, key)
		assert.Len(t, key.Key, 32)
		assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointAPIKey))

		slog.New(slog.NewJSONHandler(&logs, nil)).Error("failed", "err", err, "key", key)
		for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v %#v %s", err, err, err, err),
			fmt.Sprintf("%v %+v %#v", key, key, *key), logs.String()} {
			assert.NotContains(t, s, key.Key)
		}
		assert.Contains(t, err.Error(), key.Last4)
	})
}

func TestEnsureAPIKeyLoadError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, mem := inMemory(t, ddoauth.Sites()[2])
		conn, err := mem.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		_, err = c.EnsureAPIKey(t.Context(), conn, &flakyKeyStore{loadErr: errStoreDown}, "tenant-1")
		require.ErrorIs(t, err, errStoreDown)
		assert.Equal(t, 0, dd.Count(ddoauthtest.EndpointAPIKey), "Datadog is not asked when the store cannot say")
	})
}

func TestEnsureAPIKeyExistsAtDatadog(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c, store := inMemory(t, ddoauth.Sites()[5])
		conn, err := store.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		_, err = c.CreateAPIKey(t.Context(), conn) // created elsewhere, never stored
		require.NoError(t, err)
		_, err = c.EnsureAPIKey(t.Context(), conn, store, "tenant-1")
		require.ErrorIs(t, err, ddoauth.ErrAPIKeyExists)
		var e *ddoauth.Error
		require.ErrorAs(t, err, &e)
		assert.Contains(t, e.Hint, "OAuth Client API Key")
	})
}
