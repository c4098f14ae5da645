package storetest_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/storetest"
)

// outageBugEnv names the bug TestBuggyOutage runs TestOutage against, in
// the child process TestOutageCatches starts.
const outageBugEnv = "STORETEST_OUTAGE_BUG"

// fakeServer is the server of fakeClient stores: it can be down, and it
// keeps its records in a correct fakeStore. Its bug, if any, changes one
// way its clients fail.
type fakeServer struct {
	bug string

	mu     sync.Mutex
	data   *fakeStore
	down   bool
	failed chan struct{} // closed by the first call that fails while down
}

func (srv *fakeServer) outageConfig() storetest.OutageConfig {
	return storetest.OutageConfig{
		Open: func(*testing.T) storetest.Store {
			// Every client shares the server's records: start them afresh.
			srv.mu.Lock()
			defer srv.mu.Unlock()
			srv.data = newFake("")
			return fakeClient{srv: srv}
		},
		Restart: srv.restart,
		Stop: func(*testing.T) {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			srv.down = true
		},
		FailsFast: srv.bug == "down-waits",
		Dial:      func(*testing.T, string) storetest.Store { return fakeClient{srv: srv, hung: true} },
	}
}

// restart takes the server down until a call has failed, then brings it
// back.
func (srv *fakeServer) restart(t *testing.T) {
	srv.mu.Lock()
	srv.down, srv.failed = true, make(chan struct{})
	failed := srv.failed
	srv.mu.Unlock()
	select {
	case <-failed:
	case <-t.Context().Done():
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.down = false
	if srv.bug == "restart-loses-data" {
		srv.data = newFake("")
	}
}

// fakeClient is a store on a fakeServer; a hung one's server never
// answers.
type fakeClient struct {
	srv  *fakeServer
	hung bool
}

// call runs f on the server's records, or fails as the server's state
// and bug say.
func (c fakeClient) call(ctx context.Context, op string, f func(*fakeStore) error) error {
	srv := c.srv
	if c.hung {
		switch srv.bug {
		case "hung-ignores-ctx":
			time.Sleep(1500 * time.Millisecond)
			return &ddoauth.Error{Op: op, Err: errors.New("i/o timeout")}
		case "hung-plain-timeout":
			<-ctx.Done()
			return &ddoauth.Error{Op: op, Err: errors.New("i/o timeout")}
		}
		<-ctx.Done()
		return &ddoauth.Error{Op: op, Err: ctx.Err()}
	}
	srv.mu.Lock()
	down, data := srv.down, srv.data
	if down && srv.failed != nil {
		close(srv.failed)
		srv.failed = nil
	}
	srv.mu.Unlock()
	if !down {
		return f(data)
	}
	refused := errors.New("connection refused")
	switch srv.bug {
	case "down-plain":
		return refused
	case "down-not-found":
		return &ddoauth.Error{Op: op, Err: ddoauth.ErrNotFound}
	case "down-waits":
		<-ctx.Done()
		return &ddoauth.Error{Op: op, Err: ctx.Err()}
	case "down-ignores-ctx":
		time.Sleep(1500 * time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return &ddoauth.Error{Op: op, Err: errors.Join(err, refused)}
	}
	return &ddoauth.Error{Op: op, Err: refused}
}

func (c fakeClient) Load(ctx context.Context, id string) (conn *ddoauth.Connection, err error) {
	err = c.call(ctx, "load", func(s *fakeStore) (err error) { conn, err = s.Load(ctx, id); return err })
	return conn, err
}

func (c fakeClient) Save(ctx context.Context, id string, conn *ddoauth.Connection) error {
	return c.call(ctx, "save", func(s *fakeStore) error { return s.Save(ctx, id, conn) })
}

func (c fakeClient) Delete(ctx context.Context, id string, version int64) error {
	return c.call(ctx, "delete", func(s *fakeStore) error { return s.Delete(ctx, id, version) })
}

func (c fakeClient) Lease(ctx context.Context, name, owner string, ttl time.Duration) (fence int64, err error) {
	err = c.call(ctx, "lease", func(s *fakeStore) (err error) { fence, err = s.Lease(ctx, name, owner, ttl); return err })
	return fence, err
}

func (c fakeClient) Release(ctx context.Context, name, owner string) error {
	return c.call(ctx, "release", func(s *fakeStore) error { return s.Release(ctx, name, owner) })
}

func (c fakeClient) LoadAPIKey(ctx context.Context, id string) (key *ddoauth.APIKey, err error) {
	err = c.call(ctx, "load API key", func(s *fakeStore) (err error) { key, err = s.LoadAPIKey(ctx, id); return err })
	return key, err
}

func (c fakeClient) SaveAPIKey(ctx context.Context, id string, key *ddoauth.APIKey) error {
	return c.call(ctx, "save API key", func(s *fakeStore) error { return s.SaveAPIKey(ctx, id, key) })
}

func (c fakeClient) Use(ctx context.Context, key string, expires time.Time) (first bool, err error) {
	err = c.call(ctx, "use", func(s *fakeStore) (err error) { first, err = s.Use(ctx, key, expires); return err })
	return first, err
}

// TestOutageCorrectStore is not parallel, so that it runs before the
// children of the catches tests load the CPUs: its checks time calls.
func TestOutageCorrectStore(t *testing.T) {
	srv := &fakeServer{data: newFake("")}
	storetest.TestOutage(t, srv.outageConfig())
}

// TestOutageCatches proves that each outage check can fail, as
// TestSuiteCatches does for Test.
func TestOutageCatches(t *testing.T) {
	t.Parallel()
	cases := []struct{ check, bug string }{
		{"Restart", "restart-loses-data"},
		{"Restart", "down-plain"},
		{"Restart", "down-not-found"},
		{"Stopped", "down-plain"},
		{"Stopped", "down-not-found"},
		{"Stopped", "down-waits"},
		{"Stopped", "down-ignores-ctx"},
		{"Hung", "hung-ignores-ctx"},
		{"Hung", "hung-plain-timeout"},
	}
	// The calls of a check wait in parallel, whatever the CPUs.
	catches(t, "TestBuggyOutage", outageBugEnv, cases, "-test.parallel=32")
}

// TestBuggyOutage runs TestOutage for TestOutageCatches.
func TestBuggyOutage(t *testing.T) {
	bug := os.Getenv(outageBugEnv)
	if bug == "" {
		t.Skip("run by TestOutageCatches")
	}
	srv := &fakeServer{bug: bug, data: newFake("")}
	storetest.TestOutage(t, srv.outageConfig())
}
