// Package storetest checks an implementation of ddoauth's store contract,
// as testing/fstest.TestFS checks a file system: one call runs every check
// against the caller's store. ddoauth's own stores pass it, and a partner
// keeping connections in its own database runs it from a test of its own:
//
//	func TestStore(t *testing.T) {
//		storetest.Test(t, storetest.Config{
//			Open: func(t *testing.T) storetest.Store { return ourstore.New(newTestDB(t)) },
//		})
//	}
//
// The checks cover what a [ddoauth.TokenSource] relies on when replicas
// share a store: conditional writes that never lose a rotated refresh
// token, versions that are never reused, leases whose fences keep a
// paused holder from writing over its successor, insert-only API keys,
// atomic used states, cancellation, and fmt output without secrets.
// [TestOutage] checks, against a server of the test's own, that a store
// comes through a restart and fails alike when its server is stopped or
// hangs.
//
// The package imports the standard library, ddoauth, x/oauth2 and, for
// Benchmark's refresh, ddoauthtest; never testify.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
)

// Store is what the suite checks: every part of ddoauth's store contract
// in one value, as the shared stores provide it.
type Store interface {
	ddoauth.Store
	ddoauth.Leaser
	ddoauth.APIKeyStore
	ddoauth.UsedStates
}

// Config says how to get stores to check.
type Config struct {
	// Open returns a store with no records, isolated from other tests.
	// It is called once per check, and the checks run one after another,
	// so Open may empty a database that only this test uses (register the
	// clean-up with t.Cleanup). It is required.
	Open func(t *testing.T) Store

	// Corrupt writes a connection record under id that the store cannot
	// decode (bytes that are not a sealed value, say), through the
	// store's own tables. id has no record when Corrupt is called. Nil
	// skips the check that Load reports such a record as
	// ddoauth.ErrCorruptConnection.
	Corrupt func(t *testing.T, s Store, id string)
}

// Timing of the checks that wait for a lease or used state to expire.
// Networked stores keep time by their own clock, so expiry is polled for
// rather than slept through.
const (
	shortTTL     = 300 * time.Millisecond // long enough for a few round trips
	expirySlack  = 3 * time.Second        // how late expiry may be noticed
	pollInterval = 20 * time.Millisecond
	longTTL      = time.Minute // a lease or used state that must not expire during a check
	checkTimeout = time.Minute // bounds a check against a store that hangs
	writers      = 16          // concurrent callers in the race checks
)

// Test runs every check of the store contract against stores from
// cfg.Open, each as a subtest of t with its own store:
//
//   - RoundTrip: Save then Load keep every field, set Version, and copy.
//   - LoadAbsent: Load of an ID never saved is ddoauth.ErrNotFound.
//   - ConditionalSave: Save writes only over the version it was given.
//   - ConcurrentSave: of 16 Saves over one version, one succeeds.
//   - VersionsNotReused: a record created again after Delete gets a new
//     version, so a copy of the old one cannot write (no ABA).
//   - Delete: conditional on the version; ErrNotFound when absent.
//   - Lease: one winner of 16, extension, Release by its owner only,
//     fences that always grow, names independent of each other.
//   - LeaseExpiry: an expired lease is taken over, and its former owner
//     cannot release its successor's.
//   - Fence: a write under an older lease's fence is refused even at the
//     current version; writes outside any lease (Fence 0) are not.
//   - APIKey: insert-only keys; of 16 concurrent inserts, one is kept.
//   - UsedStates: Use is atomic and its records expire.
//   - Context: every method honours a cancelled or expired context and
//     writes nothing.
//   - CorruptRecord: Load reports an undecodable record as
//     ddoauth.ErrCorruptConnection (only with cfg.Corrupt).
//   - Secrets: fmt output of the store shows no token or API key.
//
// The whole suite takes a few seconds, most of it waiting for short
// leases to expire.
func Test(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.Open == nil {
		t.Fatal("storetest: Config.Open is nil")
	}
	for _, c := range []struct {
		name string
		run  func(*testing.T, Config)
	}{
		{"RoundTrip", testRoundTrip},
		{"LoadAbsent", testLoadAbsent},
		{"ConditionalSave", testConditionalSave},
		{"ConcurrentSave", testConcurrentSave},
		{"VersionsNotReused", testVersionsNotReused},
		{"Delete", testDelete},
		{"Lease", testLease},
		{"LeaseExpiry", testLeaseExpiry},
		{"Fence", testFence},
		{"APIKey", testAPIKey},
		{"UsedStates", testUsedStates},
		{"Context", testContext},
		{"CorruptRecord", testCorruptRecord},
		{"Secrets", testSecrets},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, cfg) })
	}
}

// open returns a new store from cfg and a context for its calls that ends
// with the check.
func open(t *testing.T, cfg Config) (Store, context.Context) {
	t.Helper()
	s := cfg.Open(t)
	if s == nil {
		t.Fatal("storetest: Config.Open returned nil")
	}
	ctx, cancel := context.WithTimeout(t.Context(), checkTimeout)
	t.Cleanup(cancel)
	return s, ctx
}

// fixtureTime is the base of the fixtures' times. Its zone is not UTC, so
// that a store which keeps the wall clock and drops the offset is caught.
var fixtureTime = time.Date(2031, time.May, 6, 7, 8, 9, 250_000_000, time.FixedZone("UTC+2", 2*60*60))

var fixtureSites = [...]string{"acme.datadoghq.eu", "us5.datadoghq.com", "initech.datadoghq.com", "ap1.datadoghq.com"}

func site(t *testing.T, n int) ddoauth.Site {
	t.Helper()
	s, err := ddoauth.ResolveSite(fixtureSites[n%len(fixtureSites)])
	if err != nil {
		t.Fatalf("storetest: fixture site: %v", err)
	}
	return s
}

// connection returns a new connection whose every field depends on n, so
// that a store handing back another record's value is caught. Odd n are
// revoked and name no organization.
func connection(t *testing.T, n int) *ddoauth.Connection {
	t.Helper()
	c := &ddoauth.Connection{
		Site: site(t, n),
		Token: &oauth2.Token{
			AccessToken:  fmt.Sprintf("storetest-access-token-%d", n),
			RefreshToken: fmt.Sprintf("storetest-refresh-token-%d", n),
			TokenType:    "Bearer",
			Expiry:       fixtureTime.Add(time.Duration(n) * time.Hour),
		},
		Scopes:  []string{"api_keys_write", fmt.Sprintf("scope_%d", n)},
		Created: fixtureTime.Add(-time.Duration(n) * time.Minute),
		Revoked: n%2 == 1,
	}
	if n%2 == 0 {
		c.OrgID, c.OrgName = orgID(n), fmt.Sprintf("Org %d «é»", n)
	}
	return c
}

// orgID is an organization UUID that depends on n.
func orgID(n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", n+1, n) }

// apiKey returns a new API key whose every field depends on n.
func apiKey(t *testing.T, n int) *ddoauth.APIKey {
	t.Helper()
	key := fmt.Sprintf("storetest-api-key-%04d-0123456789abcdef", n)
	return &ddoauth.APIKey{
		ID:      fmt.Sprintf("key-id-%d", n),
		Name:    fmt.Sprintf("OAuth Client API Key %d", n),
		Key:     key,
		Last4:   key[len(key)-4:],
		Created: fixtureTime.Add(time.Duration(n) * time.Second),
		Site:    site(t, n),
		OrgID:   orgID(n),
	}
}

// sameSecond reports whether a and b are the same instant to the second:
// stores may keep times at a coarser precision than Go.
func sameSecond(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Second && d < time.Second
}

// checkConnection reports every field of got that differs from want.
func checkConnection(t *testing.T, what string, want, got *ddoauth.Connection) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: nil connection and no error", what)
		return
	}
	if got.Site != want.Site {
		t.Errorf("%s: Site %q, want %q", what, got.Site, want.Site)
	}
	if got.Token == nil {
		t.Errorf("%s: Token is nil, want the saved token", what)
	} else {
		if got.Token.AccessToken != want.Token.AccessToken {
			t.Errorf("%s: AccessToken %q, want %q", what, got.Token.AccessToken, want.Token.AccessToken)
		}
		if got.Token.RefreshToken != want.Token.RefreshToken {
			t.Errorf("%s: RefreshToken %q, want %q", what, got.Token.RefreshToken, want.Token.RefreshToken)
		}
		if got.Token.TokenType != want.Token.TokenType {
			t.Errorf("%s: TokenType %q, want %q", what, got.Token.TokenType, want.Token.TokenType)
		}
		if !sameSecond(got.Token.Expiry, want.Token.Expiry) {
			t.Errorf("%s: Expiry %v, want %v to the second", what, got.Token.Expiry, want.Token.Expiry)
		}
	}
	if !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("%s: Scopes %q, want %q", what, got.Scopes, want.Scopes)
	}
	if !sameSecond(got.Created, want.Created) {
		t.Errorf("%s: Created %v, want %v to the second", what, got.Created, want.Created)
	}
	if got.Revoked != want.Revoked {
		t.Errorf("%s: Revoked %t, want %t", what, got.Revoked, want.Revoked)
	}
	if got.OrgID != want.OrgID || got.OrgName != want.OrgName {
		t.Errorf("%s: OrgID %q OrgName %q, want %q %q", what, got.OrgID, got.OrgName, want.OrgID, want.OrgName)
	}
}

// checkAPIKey reports every field of got that differs from want.
func checkAPIKey(t *testing.T, what string, want, got *ddoauth.APIKey) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: nil API key and no error", what)
		return
	}
	if got.ID != want.ID {
		t.Errorf("%s: ID %q, want %q", what, got.ID, want.ID)
	}
	if got.Name != want.Name {
		t.Errorf("%s: Name %q, want %q", what, got.Name, want.Name)
	}
	if got.Key != want.Key {
		t.Errorf("%s: Key %q, want %q", what, got.Key, want.Key)
	}
	if got.Last4 != want.Last4 {
		t.Errorf("%s: Last4 %q, want %q", what, got.Last4, want.Last4)
	}
	if !sameSecond(got.Created, want.Created) {
		t.Errorf("%s: Created %v, want %v to the second", what, got.Created, want.Created)
	}
	if got.Site != want.Site {
		t.Errorf("%s: Site %q, want %q", what, got.Site, want.Site)
	}
	if got.OrgID != want.OrgID {
		t.Errorf("%s: OrgID %q, want %q", what, got.OrgID, want.OrgID)
	}
}

// checkStored loads id and reports how it differs from want at version.
func checkStored(t *testing.T, ctx context.Context, s Store, id string, want *ddoauth.Connection, version int64, what string) {
	t.Helper()
	got, err := s.Load(ctx, id)
	if err != nil {
		t.Errorf("Load %s: %v", what, err)
		return
	}
	checkConnection(t, "Load "+what, want, got)
	if got.Version != version {
		t.Errorf("Load %s: Version %d, want %d", what, got.Version, version)
	}
}

func mustSave(t *testing.T, ctx context.Context, s Store, id string, conn *ddoauth.Connection, what string) {
	t.Helper()
	if err := s.Save(ctx, id, conn); err != nil {
		t.Fatalf("Save %s: %v", what, err)
	}
}

func mustLoad(t *testing.T, ctx context.Context, s Store, id, what string) *ddoauth.Connection {
	t.Helper()
	c, err := s.Load(ctx, id)
	if err != nil {
		t.Fatalf("Load %s: %v", what, err)
	}
	if c == nil {
		t.Fatalf("Load %s: nil connection and no error", what)
	}
	return c
}

// wantErr reports err unless it wraps target.
func wantErr(t *testing.T, what string, err, target error) bool {
	t.Helper()
	if errors.Is(err, target) {
		return true
	}
	t.Errorf("%s: got error %v, want one wrapping %s", what, err, sentinel(target))
	return false
}

// wantAbsent reports a record under id.
func wantAbsent(t *testing.T, ctx context.Context, s Store, id, what string) {
	t.Helper()
	_, err := s.Load(ctx, id)
	wantErr(t, "Load "+what, err, ddoauth.ErrNotFound)
}

func sentinel(err error) string {
	switch err {
	case ddoauth.ErrNotFound:
		return "ddoauth.ErrNotFound"
	case ddoauth.ErrConflict:
		return "ddoauth.ErrConflict"
	case ddoauth.ErrLeaseHeld:
		return "ddoauth.ErrLeaseHeld"
	case ddoauth.ErrCorruptConnection:
		return "ddoauth.ErrCorruptConnection"
	case context.Canceled:
		return "context.Canceled"
	case context.DeadlineExceeded:
		return "context.DeadlineExceeded"
	}
	return fmt.Sprintf("%q", err)
}

// together runs f(0), ..., f(n-1) in n goroutines released at the same
// moment, to make their calls race, and returns their errors.
func together(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// race sums up the errors of a race that one caller must win: the index
// of each caller without error, how many got an error wrapping lost, and
// the other errors.
func race(errs []error, lost error) (winners []int, losers int, others []error) {
	for i, err := range errs {
		switch {
		case err == nil:
			winners = append(winners, i)
		case errors.Is(err, lost):
			losers++
		default:
			others = append(others, err)
		}
	}
	return winners, losers, others
}
