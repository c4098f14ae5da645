package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ddoauth/ddoauth"
)

func owner(i int) string { return fmt.Sprintf("replica-%d", i) }

// leases checks a sequence of grants: each fence must be larger than
// every earlier one.
type leases struct {
	t    *testing.T
	ctx  context.Context
	s    Store
	last int64 // the largest fence granted so far
}

// grant requires owner to get the lease on name, with a new fence.
func (l *leases) grant(what, name, owner string) int64 {
	l.t.Helper()
	f, err := l.s.Lease(l.ctx, name, owner, longTTL)
	if err != nil {
		l.t.Errorf("Lease by %s: %v, want the lease", what, err)
		return 0
	}
	if f <= l.last {
		l.t.Errorf("Lease by %s: fence %d, want one larger than %d, the last granted", what, f, l.last)
	}
	l.last = max(l.last, f)
	return f
}

// refuse requires owner to get ErrLeaseHeld for name.
func (l *leases) refuse(what, name, owner string) {
	l.t.Helper()
	_, err := l.s.Lease(l.ctx, name, owner, longTTL)
	wantErr(l.t, "Lease by "+what, err, ddoauth.ErrLeaseHeld)
}

func (l *leases) release(what, name, owner string) {
	l.t.Helper()
	if err := l.s.Release(l.ctx, name, owner); err != nil {
		l.t.Errorf("Release by %s: %v, want nil", what, err)
	}
}

func testLease(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	const name, other = "connection/tenant-1", "apikey/tenant-1"
	fences := make([]int64, writers)
	errs := together(writers, func(i int) (err error) {
		fences[i], err = s.Lease(ctx, name, owner(i), longTTL)
		return err
	})
	winners, losers, others := race(errs, ddoauth.ErrLeaseHeld)
	if len(winners) != 1 || losers != writers-1 {
		t.Fatalf("%d owners leasing one name at once: %d got it and %d got ddoauth.ErrLeaseHeld, want 1 and %d; other errors: %v",
			writers, len(winners), losers, writers-1, others)
	}
	w := winners[0]
	if fences[w] <= 0 {
		t.Errorf("Lease granted fence %d, want a positive one", fences[w])
	}
	holder, rival := owner(w), owner((w+1)%writers)
	l := &leases{t: t, ctx: ctx, s: s, last: fences[w]}

	l.grant("the holder, extending its lease", name, holder)
	l.refuse("another owner after the holder extended", name, rival)
	l.release("an owner that does not hold the lease", name, rival)
	l.refuse("another owner after a Release by a non-holder", name, rival)
	l.grant("another owner on another name while the first is held", other, rival)
	l.refuse("the first name's holder on the second name, held by another", other, holder)
	l.release("the holder", name, holder)
	l.grant("another owner after the holder released", name, rival)
	l.refuse("the former holder after the lease passed on", name, holder)
	l.release("an owner of a name never leased", "connection/tenant-never", holder)
}

// awaitLease polls until owner gets the lease on name, which another owner
// took at start (or later) for ttl, and returns its fence. A grant before
// start+ttl came early.
func awaitLease(t *testing.T, ctx context.Context, s Store, name, owner string, start time.Time, ttl time.Duration) int64 {
	t.Helper()
	for {
		f, err := s.Lease(ctx, name, owner, longTTL)
		elapsed := time.Since(start)
		switch {
		case err == nil && elapsed < ttl:
			t.Fatalf("Lease by %s: granted %v after another owner took a %v lease, want ddoauth.ErrLeaseHeld until it expires",
				owner, elapsed, ttl)
		case err == nil:
			return f
		case !errors.Is(err, ddoauth.ErrLeaseHeld):
			t.Fatalf("Lease by %s while waiting for another owner's lease to expire: %v", owner, err)
		case elapsed > ttl+expirySlack:
			t.Fatalf("Lease by %s: still ddoauth.ErrLeaseHeld %v after another owner took a %v lease: it does not expire",
				owner, elapsed.Round(time.Millisecond), ttl)
		}
		time.Sleep(pollInterval)
	}
}

// leaseShort gives a a lease on name for shortTTL and checks that b is
// refused it before it expires. It returns a's fence and when a asked.
func leaseShort(t *testing.T, ctx context.Context, s Store, name, a, b string) (int64, time.Time) {
	t.Helper()
	start := time.Now()
	fa, err := s.Lease(ctx, name, a, shortTTL)
	if err != nil {
		t.Fatalf("Lease by %s on a free name: %v", a, err)
	}
	_, err = s.Lease(ctx, name, b, longTTL)
	if elapsed := time.Since(start); elapsed >= shortTTL {
		t.Fatalf("two Lease calls took %v, longer than the %v lease they check: the store is too slow for this check", elapsed, shortTTL)
	}
	wantErr(t, fmt.Sprintf("Lease by %s before %s's %v lease expires", b, a, shortTTL), err, ddoauth.ErrLeaseHeld)
	return fa, start
}

func testLeaseExpiry(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	const name = "connection/tenant-1"
	fa, start := leaseShort(t, ctx, s, name, "replica-a", "replica-b")
	fb := awaitLease(t, ctx, s, name, "replica-b", start, shortTTL)
	if fb <= fa {
		t.Errorf("Lease after expiry: fence %d, want one larger than the expired lease's %d", fb, fa)
	}
	l := &leases{t: t, ctx: ctx, s: s, last: fb}
	// The expired holder wakes up and cleans up after itself.
	l.release("the expired holder", name, "replica-a")
	l.refuse("a third owner after the expired holder's Release", name, "replica-c")
	l.refuse("the expired holder", name, "replica-a")
	l.grant("the new holder, extending its lease", name, "replica-b")
}

func testFence(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	const id = "tenant-1"
	const name = "connection/" + id
	mustSave(t, ctx, s, id, connection(t, 0), "of the record the replicas share")

	// A leases and reads, then pauses past its lease.
	fa, start := leaseShort(t, ctx, s, name, "replica-a", "replica-b")
	paused := mustLoad(t, ctx, s, id, "by the first holder")

	// B takes over and writes under its lease.
	fb := awaitLease(t, ctx, s, name, "replica-b", start, shortTTL)
	if fb <= fa {
		t.Fatalf("Lease after expiry: fence %d, want one larger than the expired lease's %d", fb, fa)
	}
	byB := mustLoad(t, ctx, s, id, "by the second holder")
	byB.Token = connection(t, 1).Token
	byB.Fence = fb
	mustSave(t, ctx, s, id, byB, fmt.Sprintf("under the second holder's fence %d", fb))
	got := mustLoad(t, ctx, s, id, "after a write under a fence")
	if got.Fence != fb {
		t.Errorf("Load after a write under fence %d: Fence %d, want %d", fb, got.Fence, fb)
	}

	// A wakes up: neither its stale copy nor a fresh read may be written
	// under its old fence.
	paused.Token = connection(t, 2).Token
	paused.Fence = fa
	err := s.Save(ctx, id, paused)
	wantErr(t, fmt.Sprintf("Save of a stale copy under the expired fence %d", fa), err, ddoauth.ErrConflict)
	reread := mustLoad(t, ctx, s, id, "by the first holder, again")
	reread.Token = connection(t, 2).Token
	reread.Fence = fa
	err = s.Save(ctx, id, reread)
	wantErr(t, fmt.Sprintf("Save at the current Version %d under the expired fence %d (the record has %d)", got.Version, fa, fb), err, ddoauth.ErrConflict)
	stored := connection(t, 0)
	stored.Token = connection(t, 1).Token
	checkStored(t, ctx, s, id, stored, byB.Version, "after writes under an expired fence")

	// B writes again under the same fence, then under a newer one.
	again := mustLoad(t, ctx, s, id, "by the second holder, again")
	again.Fence = fb
	mustSave(t, ctx, s, id, again, fmt.Sprintf("at the current version under the record's own fence %d", fb))
	l := &leases{t: t, ctx: ctx, s: s, last: fb}
	fb2 := l.grant("the second holder, extending its lease", name, "replica-b")
	newer := mustLoad(t, ctx, s, id, "by the second holder, extended")
	newer.Fence = fb2
	mustSave(t, ctx, s, id, newer, fmt.Sprintf("at the current version under a newer fence %d", fb2))

	// The partner authorizes again outside any lease.
	reauth := mustLoad(t, ctx, s, id, "by the partner")
	reauth.Token = connection(t, 3).Token
	reauth.Fence = 0
	mustSave(t, ctx, s, id, reauth, "at the current version outside any lease (Fence 0)")
	got = mustLoad(t, ctx, s, id, "after a write outside any lease")
	if got.Fence != fb2 {
		t.Errorf("Load after writes under fences %d and %d and one without: Fence %d, want %d, the highest written", fb, fb2, got.Fence, fb2)
	}
	if got.Token == nil || got.Token.AccessToken != connection(t, 3).Token.AccessToken {
		t.Errorf("Load after a write outside any lease: not the value written")
	}
	got.Fence = fb
	err = s.Save(ctx, id, got)
	wantErr(t, fmt.Sprintf("Save at the current version under fence %d, lower than the record's %d", fb, fb2), err, ddoauth.ErrConflict)
}
