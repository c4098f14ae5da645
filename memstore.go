package ddoauth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// MemoryStore is a [Store], [Leaser], [APIKeyStore] and [UsedStates] in
// memory, for tests and single-process tools: replicas need one of the
// shared stores. Its zero value is ready to use. It keeps copies encoded
// with [MarshalConnection] and [MarshalAPIKey], so callers cannot change
// what it holds through a returned value, and a test sees what a shared
// store would give back.
type MemoryStore struct {
	// Now is the clock for leases and used states. Nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	seq    int64 // the last version or fence given: never reused
	conns  map[string]memRecord
	keys   map[string][]byte
	leases map[string]memLease
	used   map[string]time.Time
	sweep  time.Time // when expired used states are next dropped
}

type memRecord struct {
	data    []byte
	version int64
	fence   int64
}

type memLease struct {
	owner   string
	expires time.Time
	fence   int64
}

func (s *MemoryStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Format prints how many connections and keys s holds, never their secrets.
func (s *MemoryStore) Format(f fmt.State, verb rune) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(f, "ddoauth.MemoryStore{connections:%d keys:%d}", len(s.conns), len(s.keys))
}

// LogValue logs what Format prints.
func (s *MemoryStore) LogValue() slog.Value { return slog.StringValue(fmt.Sprint(s)) }

// Load returns a copy of the connection saved under id, or an error
// wrapping ErrNotFound.
func (s *MemoryStore) Load(ctx context.Context, id string) (*Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	r, ok := s.conns[id]
	s.mu.Unlock()
	if !ok {
		return nil, &Error{Op: "load connection", Err: ErrNotFound}
	}
	c, err := UnmarshalConnection(r.data)
	if err != nil {
		return nil, err
	}
	c.Version, c.Fence = r.version, r.fence
	return c, nil
}

// Save stores a copy of conn under id if the record is at conn.Version;
// see [Store].
func (s *MemoryStore) Save(ctx context.Context, id string, conn *Connection) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := MarshalConnection(conn)
	if err != nil {
		return &Error{Op: "save connection", Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.conns[id]
	if ok && r.version != conn.Version || !ok && conn.Version != 0 || conn.Fence != 0 && conn.Fence < r.fence {
		return &Error{Op: "save connection", Err: ErrConflict}
	}
	if s.conns == nil {
		s.conns = make(map[string]memRecord)
	}
	s.seq++
	s.conns[id] = memRecord{data: b, version: s.seq, fence: max(r.fence, conn.Fence)}
	conn.Version = s.seq
	return nil
}

// Delete removes the connection under id if it is at version.
func (s *MemoryStore) Delete(ctx context.Context, id string, version int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.conns[id]
	switch {
	case !ok:
		return &Error{Op: "delete connection", Err: ErrNotFound}
	case r.version != version:
		return &Error{Op: "delete connection", Err: ErrConflict}
	}
	delete(s.conns, id)
	return nil
}

// Lease gives the lease on name to owner; see [Leaser].
func (s *MemoryStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.owner != owner && now.Before(l.expires) {
		return 0, &Error{Op: "lease", Err: ErrLeaseHeld}
	}
	if s.leases == nil {
		s.leases = make(map[string]memLease)
	}
	s.seq++
	s.leases[name] = memLease{owner: owner, expires: now.Add(ttl), fence: s.seq}
	return s.seq, nil
}

// Release ends owner's lease on name; see [Leaser].
func (s *MemoryStore) Release(ctx context.Context, name, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.owner == owner {
		delete(s.leases, name)
	}
	return nil
}

// LoadAPIKey returns a copy of the API key saved under id, or an error
// wrapping ErrNotFound.
func (s *MemoryStore) LoadAPIKey(ctx context.Context, id string) (*APIKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	b, ok := s.keys[id]
	s.mu.Unlock()
	if !ok {
		return nil, &Error{Op: "load API key", Err: ErrNotFound}
	}
	return UnmarshalAPIKey(b)
}

// SaveAPIKey stores a copy of key under id unless id has one; see
// [APIKeyStore].
func (s *MemoryStore) SaveAPIKey(ctx context.Context, id string, key *APIKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := MarshalAPIKey(key)
	if err != nil {
		return &Error{Op: "save API key", Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; ok {
		return &Error{Op: "save API key", Err: ErrConflict}
	}
	if s.keys == nil {
		s.keys = make(map[string][]byte)
	}
	s.keys[id] = b
	return nil
}

// Use records key until expires; see [UsedStates].
func (s *MemoryStore) Use(ctx context.Context, key string, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.After(s.sweep) {
		for k, e := range s.used {
			if !now.Before(e) {
				delete(s.used, k)
			}
		}
		s.sweep = now.Add(time.Minute)
	}
	if e, ok := s.used[key]; ok && now.Before(e) {
		return false, nil
	}
	if s.used == nil {
		s.used = make(map[string]time.Time)
	}
	s.used[key] = expires
	return true, nil
}
