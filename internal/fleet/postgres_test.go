package fleet

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/pgtest"
	"github.com/ddoauth/ddoauth/pgstore"
)

// postgresFleet returns the fleet's store in a new database of srv, its
// schema applied.
func postgresFleet(t *testing.T, srv *pgtest.Server) *sharedStore {
	t.Helper()
	cfg := childConfig{Backend: "postgres", Store: srv.NewDatabase(t), Key: sealingKey()}
	store, closeStore, err := openChildStore(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(closeStore)
	require.NoError(t, store.(*pgstore.Store).Migrate(t.Context()))
	return &sharedStore{store: store, child: cfg}
}

// openPostgres opens the store a fleet process shares over Postgres.
func openPostgres(ctx context.Context, cfg childConfig) (ddoauth.Store, func(), error) {
	pool, err := pgxpool.New(ctx, cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	store, err := pgstore.New(pool, pgstore.Config{Keys: [][]byte{cfg.Key}})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return store, pool.Close, nil
}
