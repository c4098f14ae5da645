package redisstore

import "github.com/redis/go-redis/v9"

// Where a Store keeps things, for tests that write under it.
func (s *Store) Client() redis.UniversalClient { return s.rdb }
func (s *Store) ConnKey(id string) string      { return s.connKey(id) }
func (s *Store) APIKeyKey(id string) string    { return s.apiKeyKey(id) }
func (s *Store) SeqKey() string                { return s.seq }
