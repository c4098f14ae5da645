package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/storetest"
)

// fakeStore is a store with one bug, named by bug, for proving that the
// suite catches it; without a bug it is correct. Each bug changes one
// decision of the contract.
type fakeStore struct {
	bug string

	mu     sync.Mutex
	seq    int64            // the last version or fence given
	perID  map[string]int64 // versions counted per ID ("versions-per-id")
	fences map[string]int64 // fences counted per name ("fence-per-name")
	conns  map[string]*fakeRecord
	keys   map[string]ddoauth.APIKey
	leases map[string]fakeLease
	used   map[string]time.Time
	paused int // callers inside pause
}

type fakeRecord struct {
	data    []byte              // JSON, or garbage for a corrupt record
	conn    *ddoauth.Connection // kept by "save-keeps-pointer", shared by "load-shares"
	version int64
	fence   int64
}

type fakeLease struct {
	owner   string
	expires time.Time
	fence   int64
}

func newFake(bug string) *fakeStore {
	return &fakeStore{bug: bug, perID: map[string]int64{}, fences: map[string]int64{},
		conns: map[string]*fakeRecord{}, keys: map[string]ddoauth.APIKey{},
		leases: map[string]fakeLease{}, used: map[string]time.Time{}}
}

func fakeConfig(bug string) storetest.Config {
	return storetest.Config{
		Open: func(*testing.T) storetest.Store { return newFake(bug) },
		Corrupt: func(t *testing.T, s storetest.Store, id string) {
			f := s.(*fakeStore)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.seq++
			f.conns[id] = &fakeRecord{data: []byte("\x00 not a record"), version: f.seq}
		},
	}
}

func (s *fakeStore) has(bug string) bool { return s.bug == bug }

// before and after place the context check before any effect, or after
// it for "ctx-after-write".
func (s *fakeStore) before(ctx context.Context) error {
	if s.has("ignore-ctx") || s.has("ctx-after-write") {
		return nil
	}
	return ctx.Err()
}

func (s *fakeStore) after(ctx context.Context) error {
	if s.has("ctx-after-write") {
		return ctx.Err()
	}
	return nil
}

// pause lets every racing caller decide before any of them writes, for
// the bugs that check and write in two steps.
//
// A caller waits, with the lock released, until another caller has paused
// too (or 250 ms, for a caller that has no rival): on a loaded machine a
// fixed sleep can end before the scheduler starts any rival, and the
// planted race would not happen.
func (s *fakeStore) pause(bug string) {
	if !s.has(bug) {
		return
	}
	s.paused++
	for deadline := time.Now().Add(250 * time.Millisecond); s.paused < 2 && time.Now().Before(deadline); {
		s.mu.Unlock()
		time.Sleep(time.Millisecond)
		s.mu.Lock()
	}
	s.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	s.mu.Lock()
	s.paused--
}

func (s *fakeStore) Format(f fmt.State, verb rune) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.has("format-leaks") {
		for id, r := range s.conns {
			fmt.Fprintf(f, "%s=%s ", id, r.data)
		}
		return
	}
	fmt.Fprintf(f, "fakeStore{connections:%d keys:%d}", len(s.conns), len(s.keys))
}

var errConflict = &ddoauth.Error{Op: "fake", Err: ddoauth.ErrConflict}

func (s *fakeStore) Load(ctx context.Context, id string) (*ddoauth.Connection, error) {
	if err := s.before(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.conns[id]
	if !ok {
		if s.has("not-found-plain") {
			return nil, errors.New("fake: no such record")
		}
		return nil, &ddoauth.Error{Op: "fake load", Err: ddoauth.ErrNotFound}
	}
	var c *ddoauth.Connection
	switch {
	case r.conn != nil && s.has("load-shares"):
		c = r.conn
	case r.conn != nil && s.has("save-keeps-pointer"):
		shallow := *r.conn
		c = &shallow
	default:
		var err error
		if c, err = ddoauth.UnmarshalConnection(r.data); err != nil {
			switch {
			case s.has("corrupt-panics"):
				panic(err)
			case s.has("corrupt-plain"):
				return nil, errors.New("fake: the record does not decode") // not ErrCorruptConnection
			}
			return nil, fmt.Errorf("fake: %w: %w", ddoauth.ErrCorruptConnection, err)
		}
		if s.has("load-shares") {
			r.conn = c
		}
	}
	if s.has("load-drops-scopes") {
		c.Scopes = nil
	}
	if !s.has("load-no-version") {
		c.Version = r.version
	}
	if !s.has("load-no-fence") {
		c.Fence = r.fence
	}
	return c, s.after(ctx)
}

func (s *fakeStore) next(id string) int64 {
	if s.has("versions-per-id") {
		s.perID[id]++
		return s.perID[id]
	}
	s.seq++
	return s.seq
}

func (s *fakeStore) Save(ctx context.Context, id string, conn *ddoauth.Connection) error {
	if err := s.before(ctx); err != nil {
		return err
	}
	data, err := ddoauth.MarshalConnection(conn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var version, fence int64
	r, ok := s.conns[id]
	if ok {
		version, fence = r.version, r.fence
	}
	s.pause("save-racy")
	stale := conn.Version != version
	if s.has("save-ignores-version") || s.has("save-absent-any-version") && !ok {
		stale = false
	}
	fenced := conn.Fence != 0 && conn.Fence < fence
	switch {
	case s.has("save-ignores-fence"):
		fenced = false
	case s.has("save-refuses-equal-fence"):
		fenced = conn.Fence != 0 && conn.Fence <= fence
	case s.has("save-refuses-fence-zero"):
		fenced = conn.Fence < fence
	}
	if stale || fenced {
		if s.has("save-writes-then-conflict") {
			s.conns[id] = &fakeRecord{data: data, version: version, fence: fence}
		}
		return errConflict
	}
	rec := &fakeRecord{data: data, version: s.next(id), fence: max(fence, conn.Fence)}
	if s.has("fence-overwrite") {
		rec.fence = conn.Fence
	}
	if s.has("save-keeps-pointer") {
		rec.conn = conn
	}
	s.conns[id] = rec
	if !s.has("save-no-version") {
		conn.Version = rec.version
	}
	return s.after(ctx)
}

func (s *fakeStore) Delete(ctx context.Context, id string, version int64) error {
	if err := s.before(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.conns[id]
	switch {
	case !ok && s.has("delete-absent-nil"):
		return nil
	case !ok:
		return &ddoauth.Error{Op: "fake delete", Err: ddoauth.ErrNotFound}
	case r.version != version && !s.has("delete-ignores-version"):
		return errConflict
	}
	delete(s.conns, id)
	delete(s.perID, id)
	return s.after(ctx)
}

func (s *fakeStore) leaseKey(name string) string {
	if s.has("lease-global") {
		return ""
	}
	return name
}

func (s *fakeStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (int64, error) {
	if err := s.before(ctx); err != nil {
		return 0, err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leases[s.leaseKey(name)]
	s.pause("lease-racy")
	if ok && l.owner != owner && (now.Before(l.expires) || s.has("lease-never-expires")) {
		return 0, &ddoauth.Error{Op: "fake lease", Err: ddoauth.ErrLeaseHeld}
	}
	var fence int64
	switch {
	case ok && l.owner == owner && s.has("extend-same-fence"):
		fence = l.fence
	case s.has("fence-per-name"):
		s.fences[name]++
		fence = s.fences[name]
	case s.has("lease-fence-zero"):
	default:
		s.seq++
		fence = s.seq
	}
	if s.has("lease-ignores-ttl") {
		ttl = 0
	}
	s.leases[s.leaseKey(name)] = fakeLease{owner: owner, expires: now.Add(ttl), fence: fence}
	return fence, s.after(ctx)
}

func (s *fakeStore) Release(ctx context.Context, name, owner string) error {
	if err := s.before(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[s.leaseKey(name)]; ok && (l.owner == owner || s.has("release-by-anyone")) {
		delete(s.leases, s.leaseKey(name))
	}
	return s.after(ctx)
}

func (s *fakeStore) LoadAPIKey(ctx context.Context, id string) (*ddoauth.APIKey, error) {
	if err := s.before(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	switch {
	case !ok && s.has("apikey-not-found-plain"):
		return nil, errors.New("fake: no such key")
	case !ok:
		return nil, &ddoauth.Error{Op: "fake load API key", Err: ddoauth.ErrNotFound}
	}
	if s.has("apikey-drops-last4") {
		k.Last4 = ""
	}
	return &k, s.after(ctx)
}

func (s *fakeStore) SaveAPIKey(ctx context.Context, id string, key *ddoauth.APIKey) error {
	if err := s.before(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.keys[id]
	s.pause("apikey-racy")
	if ok && !s.has("apikey-overwrite") {
		return errConflict
	}
	s.keys[id] = *key
	return s.after(ctx)
}

func (s *fakeStore) Use(ctx context.Context, key string, expires time.Time) (bool, error) {
	if err := s.before(ctx); err != nil {
		return false, err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.has("use-global") {
		key = ""
	}
	e, ok := s.used[key]
	s.pause("use-racy")
	if ok && (now.Before(e) || s.has("use-never-expires")) && !s.has("use-always-true") {
		return false, nil
	}
	s.used[key] = expires
	return true, s.after(ctx)
}
