package main

import (
	"context"
	"errors"
	"sync"

	"github.com/ddoauth/ddoauth"
)

// keyStore is the partner's API key store: the durable store, and a
// fallback for the keys Datadog created but the store could not save
// (ddoauth.APIKeyNotSavedError). Datadog shows a key once, so such a key
// is kept, not dropped, and found again on the next connection. The
// example's fallback is memory; a real backend uses a second durable
// place (a file only the service reads, a secrets manager) from which an
// operator moves the key, and alerts on it.
type keyStore struct {
	primary        ddoauth.APIKeyStore
	ddoauth.Leaser // the primary's: replicas agree on who asks Datadog

	mu   sync.Mutex
	kept map[string]*ddoauth.APIKey
}

func (s *keyStore) LoadAPIKey(ctx context.Context, id string) (*ddoauth.APIKey, error) {
	key, err := s.primary.LoadAPIKey(ctx, id)
	if !errors.Is(err, ddoauth.ErrNotFound) {
		return key, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.kept[id]; ok {
		c := *k
		return &c, nil
	}
	return nil, err
}

func (s *keyStore) SaveAPIKey(ctx context.Context, id string, key *ddoauth.APIKey) error {
	return s.primary.SaveAPIKey(ctx, id, key)
}

// keep puts key in the fallback.
func (s *keyStore) keep(id string, key *ddoauth.APIKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kept == nil {
		s.kept = make(map[string]*ddoauth.APIKey)
	}
	c := *key
	s.kept[id] = &c
}
