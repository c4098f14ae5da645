package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/ddoauth/ddoauth"
)

func testRoundTrip(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	want := connection(t, 1)
	conn := connection(t, 1)
	mustSave(t, ctx, s, "tenant-1", conn, "of a new connection (Version 0)")
	if conn.Version <= 0 {
		t.Errorf("Save set Version %d on the connection it saved, want a positive version", conn.Version)
	}
	// The store keeps its own copy: the caller goes on using conn.
	scribble(t, conn)
	got := mustLoad(t, ctx, s, "tenant-1", "after Save")
	checkConnection(t, "Load after Save and a change to the saved value", want, got)
	if got.Version != conn.Version {
		t.Errorf("Load after Save: Version %d, want %d, the one Save set", got.Version, conn.Version)
	}
	if got.Fence != 0 {
		t.Errorf("Load after Save: Fence %d, want 0: nothing was written under a lease", got.Fence)
	}
	// And it hands out copies: the caller may change what it loaded.
	scribble(t, got)
	again := mustLoad(t, ctx, s, "tenant-1", "again")
	checkConnection(t, "Load after a change to an earlier Load's result", want, again)
	if again.Version != conn.Version {
		t.Errorf("Load again: Version %d, want %d", again.Version, conn.Version)
	}
}

// scribble changes every field of c, in place and through its pointers.
func scribble(t *testing.T, c *ddoauth.Connection) {
	c.Site = site(t, 2)
	if c.Token != nil {
		c.Token.AccessToken += "-changed"
		c.Token.RefreshToken += "-changed"
		c.Token.TokenType = "changed"
		c.Token.Expiry = c.Token.Expiry.Add(time.Hour)
	}
	if len(c.Scopes) > 0 {
		c.Scopes[0] = "changed"
	}
	c.Created = c.Created.Add(time.Hour)
	c.Revoked = !c.Revoked
}

func testLoadAbsent(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	wantAbsent(t, ctx, s, "tenant-1", "of an ID in an empty store")
	mustSave(t, ctx, s, "tenant-1", connection(t, 1), "of tenant-1")
	for _, id := range []string{"tenant-2", "tenant-10", "tenant-", "Tenant-1"} {
		wantAbsent(t, ctx, s, id, fmt.Sprintf("of %q, never saved, next to tenant-1", id))
	}
}

func testConditionalSave(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	const id = "tenant-1"

	// A version the store has given, but to another record.
	other := connection(t, 9)
	mustSave(t, ctx, s, "tenant-9", other, "of tenant-9")
	orphan := connection(t, 1)
	orphan.Version = other.Version
	err := s.Save(ctx, id, orphan)
	wantErr(t, fmt.Sprintf("Save of a new ID at Version %d (another record's)", other.Version), err, ddoauth.ErrConflict)
	wantAbsent(t, ctx, s, id, "after a refused first Save")

	first := connection(t, 1)
	mustSave(t, ctx, s, id, first, "of a new ID at Version 0")
	v1 := first.Version

	again := connection(t, 2) // a second creator, who did not see the first
	err = s.Save(ctx, id, again)
	wantErr(t, "a second Save at Version 0 on an existing ID", err, ddoauth.ErrConflict)
	if again.Version != 0 {
		t.Errorf("a refused Save set Version %d on the connection, want it left at 0", again.Version)
	}
	checkStored(t, ctx, s, id, connection(t, 1), v1, "after a refused Save at Version 0")

	next := connection(t, 3)
	next.Version = v1
	mustSave(t, ctx, s, id, next, fmt.Sprintf("at the current Version %d", v1))
	v2 := next.Version
	if v2 <= v1 {
		t.Errorf("Save over Version %d set Version %d, want a larger one", v1, v2)
	}
	checkStored(t, ctx, s, id, connection(t, 3), v2, "after a Save at the current version")

	for _, c := range []struct {
		what    string
		version int64
	}{
		{"stale", v1},
		{"future", v2 + 1000},
		{"negative", -1},
	} {
		conn := connection(t, 4)
		conn.Version = c.version
		err := s.Save(ctx, id, conn)
		wantErr(t, fmt.Sprintf("Save at a %s Version %d (the record is at %d)", c.what, c.version, v2), err, ddoauth.ErrConflict)
		if conn.Version != c.version {
			t.Errorf("a refused Save changed Version from %d to %d", c.version, conn.Version)
		}
		checkStored(t, ctx, s, id, connection(t, 3), v2, fmt.Sprintf("after a refused Save at a %s version", c.what))
	}

	last := connection(t, 5)
	last.Version = v2
	mustSave(t, ctx, s, id, last, fmt.Sprintf("at the current Version %d", v2))
	if last.Version <= v2 {
		t.Errorf("Save over Version %d set Version %d, want a larger one", v2, last.Version)
	}
	checkStored(t, ctx, s, id, connection(t, 5), last.Version, "after the last Save")
	checkStored(t, ctx, s, "tenant-9", connection(t, 9), other.Version, "of tenant-9 after writes to tenant-1")
}

func testConcurrentSave(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	const id = "tenant-1"
	base := connection(t, 0)
	mustSave(t, ctx, s, id, base, "of the record the writers read")
	conns := make([]*ddoauth.Connection, writers)
	for i := range conns {
		conns[i] = connection(t, 100+i)
		conns[i].Version = base.Version
	}
	errs := together(writers, func(i int) error { return s.Save(ctx, id, conns[i]) })
	winners, losers, others := race(errs, ddoauth.ErrConflict)
	if len(winners) != 1 || losers != writers-1 {
		t.Fatalf("%d concurrent Saves at Version %d: %d succeeded and %d got ddoauth.ErrConflict, want 1 and %d; other errors: %v",
			writers, base.Version, len(winners), losers, writers-1, others)
	}
	w := winners[0]
	if conns[w].Version <= base.Version {
		t.Errorf("the winning Save set Version %d, want more than %d", conns[w].Version, base.Version)
	}
	checkStored(t, ctx, s, id, connection(t, 100+w), conns[w].Version, "after the race (the winner's value)")
}

func testVersionsNotReused(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	const id = "tenant-1"
	old := connection(t, 1)
	mustSave(t, ctx, s, id, old, "of the first record")
	if err := s.Delete(ctx, id, old.Version); err != nil {
		t.Fatalf("Delete at the current version: %v", err)
	}
	renewed := connection(t, 2)
	mustSave(t, ctx, s, id, renewed, "of a record created again after Delete")
	if renewed.Version == old.Version {
		t.Errorf("the record created again after Delete got Version %d, the deleted one's: versions must never be reused", old.Version)
	}

	// A replica still holding a copy of the deleted record.
	stale := connection(t, 3)
	stale.Version = old.Version
	err := s.Save(ctx, id, stale)
	wantErr(t, fmt.Sprintf("Save at the deleted record's Version %d", old.Version), err, ddoauth.ErrConflict)
	err = s.Delete(ctx, id, old.Version)
	wantErr(t, fmt.Sprintf("Delete at the deleted record's Version %d", old.Version), err, ddoauth.ErrConflict)
	checkStored(t, ctx, s, id, connection(t, 2), renewed.Version, "after writes at the deleted record's version")
}

func testDelete(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	const id = "tenant-1"
	first := connection(t, 1)
	mustSave(t, ctx, s, id, first, "of tenant-1")
	second := connection(t, 2)
	second.Version = first.Version
	mustSave(t, ctx, s, id, second, "of tenant-1 again")
	neighbour := connection(t, 3)
	mustSave(t, ctx, s, "tenant-2", neighbour, "of tenant-2")

	err := s.Delete(ctx, id, first.Version)
	wantErr(t, fmt.Sprintf("Delete at a stale Version %d", first.Version), err, ddoauth.ErrConflict)
	checkStored(t, ctx, s, id, connection(t, 2), second.Version, "after a refused Delete")

	if err := s.Delete(ctx, id, second.Version); err != nil {
		t.Fatalf("Delete at the current Version %d: %v", second.Version, err)
	}
	wantAbsent(t, ctx, s, id, "after Delete")
	err = s.Delete(ctx, id, second.Version)
	wantErr(t, "Delete of a deleted record", err, ddoauth.ErrNotFound)
	err = s.Delete(ctx, "tenant-never", 1)
	wantErr(t, "Delete of an ID never saved", err, ddoauth.ErrNotFound)
	checkStored(t, ctx, s, "tenant-2", connection(t, 3), neighbour.Version, "of tenant-2 after tenant-1 was deleted")
}

func testCorruptRecord(t *testing.T, cfg Config) {
	if cfg.Corrupt == nil {
		t.Skip("Config.Corrupt is nil")
	}
	s, ctx := open(t, cfg)
	const id = "tenant-corrupt"
	cfg.Corrupt(t, s, id)
	panicked, err := func() (panicked any, err error) {
		defer func() { panicked = recover() }()
		_, err = s.Load(ctx, id)
		return nil, err
	}()
	if panicked != nil {
		t.Fatalf("Load of an undecodable record panicked (%v), want an error wrapping ddoauth.ErrCorruptConnection", panicked)
	}
	wantErr(t, "Load of an undecodable record", err, ddoauth.ErrCorruptConnection)
}
