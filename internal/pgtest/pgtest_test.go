package pgtest_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func query(t *testing.T, dsn, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer c.Close(ctx)
	var s string
	require.NoError(t, c.QueryRow(ctx, sql).Scan(&s))
	return s
}

func TestSharedServerDatabases(t *testing.T) {
	t.Parallel()
	s := pgtest.Start(t)
	assert.Same(t, s, pgtest.Start(t), "one server per test binary")
	t.Logf("started in %v", s.StartupTime)

	a, b := s.NewDatabase(t), s.NewDatabase(t)
	assert.NotEqual(t, a, b)
	assert.Equal(t, "off", query(t, a, "SHOW fsync"))
	assert.Equal(t, "127.0.0.1", query(t, a, "SHOW listen_addresses"))
	assert.Regexp(t, `^15\.`, query(t, a, "SHOW server_version"))
	assert.NotEqual(t, query(t, a, "SELECT current_database()"), query(t, b, "SELECT current_database()"))
	assert.Equal(t, "off", query(t, s.SocketDSN("postgres"), "SHOW fsync"), "the Unix socket answers too")
}

// TestDSNFromChildProcess: a fleet test hands the DSN to other processes.
func TestDSNFromChildProcess(t *testing.T) {
	t.Parallel()
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("no psql")
	}
	dsn := pgtest.Start(t).NewDatabase(t)
	out, err := exec.Command(psql, "-XAtc", "SELECT 40 + 2", dsn).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "42\n", string(out))
}

func TestRestartKeepsDataAndAddress(t *testing.T) {
	t.Parallel()
	s := pgtest.NewServer(t)
	dsn := s.NewDatabase(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	_, err = c.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('here')")
	require.NoError(t, err)
	c.Close(ctx)

	s.Stop(t)
	s.Stop(t) // idempotent
	_, err = pgx.Connect(ctx, dsn)
	require.Error(t, err, "a stopped server refuses connections")

	s.Start(t)
	assert.Equal(t, "here", query(t, dsn, "SELECT v FROM kept"))
	s.Restart(t)
	assert.Equal(t, "here", query(t, dsn, "SELECT v FROM kept"))
}
