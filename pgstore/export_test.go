package pgstore

import "github.com/jackc/pgx/v5/pgxpool"

// Pool returns the pool s uses, for tests that read and write its tables.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
