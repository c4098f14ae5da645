package redistest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

// recordingTB records Fatal instead of ending the test.
type recordingTB struct {
	testing.TB
	failed string
}

func (r *recordingTB) Helper()           {}
func (r *recordingTB) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

func TestStartRestartKill(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	srv := Start(t)
	t.Logf("server started in %v", time.Since(begin))
	ctx := t.Context()
	rdb := srv.Client(t)
	require.NoError(t, rdb.Set(ctx, "k", "before restart", 0).Err())

	srv.Restart(t)
	// The pool's connections died with the server; the client dials again.
	got, err := rdb.Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "before restart", got)

	require.NoError(t, rdb.Set(ctx, "k", "before kill", 0).Err())
	srv.Kill(t)
	require.Error(t, rdb.Get(ctx, "k").Err())
	srv.Restart(t)
	got, err = rdb.Get(ctx, "k").Result()
	require.NoError(t, err)
	// SIGKILL loses only what was not written to the append-only file;
	// Redis writes it before it answers.
	assert.Equal(t, "before kill", got)

	srv.Stop(t)
	require.Error(t, rdb.Ping(ctx).Err())
	srv.Restart(t)
	require.NoError(t, rdb.Ping(ctx).Err())
}

func TestSocketAndURL(t *testing.T) {
	t.Parallel()
	srv := Shared(t)
	if srv.Socket() == "" {
		t.Skip("temporary directory too deep for a unix socket")
	}
	assert.Equal(t, srv.Dir(), filepath.Dir(srv.Socket()))
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket()})
	defer rdb.Close()
	require.NoError(t, rdb.Ping(t.Context()).Err())

	opt, err := redis.ParseURL(srv.URL())
	require.NoError(t, err)
	assert.Equal(t, srv.Addr(), opt.Addr)
}

func TestShared(t *testing.T) {
	t.Parallel()
	a, b := Shared(t), Shared(t)
	assert.Same(t, a, b)
	assert.NotEqual(t, a.Prefix(t), a.Prefix(t))

	for _, fault := range []func(testing.TB){a.Stop, a.Kill, a.Restart} {
		rec := &recordingTB{TB: t}
		fault(rec)
		assert.Contains(t, rec.failed, "redistest.Start")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.Client(t).Ping(ctx).Err())
}

func TestPrefixIsSafeInPatterns(t *testing.T) {
	t.Parallel()
	srv := Shared(t)
	t.Run("a[b]*?{c} d", func(t *testing.T) {
		p := srv.Prefix(t)
		assert.NotContains(t, p, "[")
		assert.NotContains(t, p, "{")
		assert.NotContains(t, p, " ")
	})
}
