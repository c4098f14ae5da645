package storetest

import (
	"testing"

	"github.com/ddoauth/ddoauth"
)

func testAPIKey(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	_, err := s.LoadAPIKey(ctx, "tenant-1")
	wantErr(t, "LoadAPIKey of an ID never saved", err, ddoauth.ErrNotFound)

	key := apiKey(t, 1)
	if err := s.SaveAPIKey(ctx, "tenant-1", key); err != nil {
		t.Fatalf("SaveAPIKey of a new ID: %v", err)
	}
	key.Key, key.Last4 = "changed by the caller", "ller" // the store keeps its own copy
	got, err := s.LoadAPIKey(ctx, "tenant-1")
	if err != nil {
		t.Fatalf("LoadAPIKey after SaveAPIKey: %v", err)
	}
	checkAPIKey(t, "LoadAPIKey after SaveAPIKey", apiKey(t, 1), got)
	if got != nil {
		got.Key, got.Name = "changed by the caller", "changed" // and hands out copies
	}
	got, err = s.LoadAPIKey(ctx, "tenant-1")
	if err != nil {
		t.Fatalf("LoadAPIKey again: %v", err)
	}
	checkAPIKey(t, "LoadAPIKey after a change to an earlier result", apiKey(t, 1), got)

	err = s.SaveAPIKey(ctx, "tenant-1", apiKey(t, 2))
	wantErr(t, "a second SaveAPIKey on one ID", err, ddoauth.ErrConflict)
	got, err = s.LoadAPIKey(ctx, "tenant-1")
	if err != nil {
		t.Fatalf("LoadAPIKey after a refused SaveAPIKey: %v", err)
	}
	checkAPIKey(t, "LoadAPIKey after a refused SaveAPIKey (the first key)", apiKey(t, 1), got)

	// Replicas that each created a key race to save it: one key is kept.
	errs := together(writers, func(i int) error { return s.SaveAPIKey(ctx, "tenant-2", apiKey(t, 100+i)) })
	winners, losers, others := race(errs, ddoauth.ErrConflict)
	if len(winners) != 1 || losers != writers-1 {
		t.Fatalf("%d concurrent SaveAPIKey on one ID: %d succeeded and %d got ddoauth.ErrConflict, want 1 and %d; other errors: %v",
			writers, len(winners), losers, writers-1, others)
	}
	got, err = s.LoadAPIKey(ctx, "tenant-2")
	if err != nil {
		t.Fatalf("LoadAPIKey after the race: %v", err)
	}
	checkAPIKey(t, "LoadAPIKey after the race (the winner's key)", apiKey(t, 100+winners[0]), got)
	got, err = s.LoadAPIKey(ctx, "tenant-1")
	if err != nil {
		t.Fatalf("LoadAPIKey of tenant-1 after the race on tenant-2: %v", err)
	}
	checkAPIKey(t, "LoadAPIKey of tenant-1 after the race on tenant-2", apiKey(t, 1), got)
}
