package ddoauth

import (
	"context"
	"fmt"
	"log/slog"
	"math"
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

	// MaxUsedStates bounds how many used states ([UsedStates]) the store
	// keeps, so that callbacks cannot grow it without end. When it is
	// full, the record that expires first makes room, expired or not: a
	// replay of that callback then passes this check, and Datadog's
	// single-use code still refuses it. Zero means 100,000 (about 13 MB).
	// Set it before the store is used.
	MaxUsedStates int

	mu     sync.Mutex
	seq    int64 // the last version or fence given: never reused
	conns  map[string]memRecord
	keys   map[string][]byte
	leases map[string]memLease
	used   map[string]int64 // used state key: when it expires, in Unix ns
	expiry usedHeap         // the used states, the first to expire on top
}

// defaultMaxUsedStates is MemoryStore.MaxUsedStates's default: at the
// ten-minute life of an authorization, 160 callbacks a second.
const defaultMaxUsedStates = 100_000

// sweepPerUse is how many expired used states each Use drops at most:
// more than the one it adds, so they never pile up, and few enough that
// no call holds the lock for a sweep of the whole set.
const sweepPerUse = 4

// usedHeap is a binary min-heap of used states by expiry. Its entries
// are values, so that sifting compares within one array instead of
// chasing a pointer per entry, and it boxes nothing, so Use allocates
// nothing for it. A key used again after its record expired gets a new
// entry; the old one is stale (its expiry is no longer the map's) and is
// dropped without touching the map.
type usedHeap []usedEntry

type usedEntry struct {
	expires int64 // Unix ns
	key     string
}

func (h *usedHeap) push(e usedEntry) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		parent := (i - 1) / 2
		if a[parent].expires <= a[i].expires {
			break
		}
		a[parent], a[i] = a[i], a[parent]
		i = parent
	}
}

func (h *usedHeap) pop() usedEntry {
	a := *h
	top, last := a[0], len(a)-1
	a[0] = a[last]
	a[last] = usedEntry{} // the array keeps no key
	a = a[:last]
	*h = a
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(a) && a[l].expires < a[least].expires {
			least = l
		}
		if r < len(a) && a[r].expires < a[least].expires {
			least = r
		}
		if least == i {
			break
		}
		a[i], a[least] = a[least], a[i]
		i = least
	}
	return top
}

// dropFirst removes the used state that expires first.
func (s *MemoryStore) dropFirst() {
	e := s.expiry.pop()
	if s.used[e.key] == e.expires {
		delete(s.used, e.key)
	}
}

// unixNano is t in Unix ns, clamped to the years int64 covers.
func unixNano(t time.Time) int64 {
	switch sec := t.Unix(); {
	case sec <= math.MinInt64/int64(time.Second):
		return math.MinInt64
	case sec >= math.MaxInt64/int64(time.Second):
		return math.MaxInt64
	}
	return t.UnixNano()
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
	fmt.Fprintf(f, "ddoauth.MemoryStore{connections:%d keys:%d used:%d}", len(s.conns), len(s.keys), len(s.used))
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

// Use records key until expires; see [UsedStates] and MaxUsedStates.
// Each call does O(log n) work under the store's lock: expired records
// are dropped a few at a time, soonest first, never in one sweep.
func (s *MemoryStore) Use(ctx context.Context, key string, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := unixNano(now)
	for range sweepPerUse {
		if len(s.expiry) == 0 || s.expiry[0].expires > n {
			break
		}
		s.dropFirst()
	}
	if e, ok := s.used[key]; ok && n < e {
		return false, nil
	}
	limit := s.MaxUsedStates
	if limit <= 0 {
		limit = defaultMaxUsedStates
	}
	for len(s.expiry) >= limit {
		s.dropFirst()
	}
	if s.used == nil {
		s.used = make(map[string]int64)
	}
	e := usedEntry{expires: unixNano(expires), key: key}
	s.used[key] = e.expires
	s.expiry.push(e)
	return true, nil
}
