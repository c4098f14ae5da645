package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ddoauth/ddoauth"
)

func testContext(t *testing.T, cfg Config) {
	s, live := open(t, cfg)
	const existing, held = "tenant-existing", "connection/tenant-existing"
	stored := connection(t, 1)
	mustSave(t, live, s, existing, stored, "of the record the calls touch")
	if err := s.SaveAPIKey(live, existing, apiKey(t, 1)); err != nil {
		t.Fatalf("SaveAPIKey: %v", err)
	}
	if _, err := s.Lease(live, held, "holder", longTTL); err != nil {
		t.Fatalf("Lease: %v", err)
	}
	later := time.Now().Add(longTTL)

	for _, c := range []struct {
		name string
		ctx  func() context.Context
	}{
		{"Canceled", func() context.Context {
			ctx, cancel := context.WithCancel(live)
			cancel()
			return ctx
		}},
		{"DeadlineExceeded", func() context.Context {
			ctx, cancel := context.WithDeadline(live, time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dead := c.ctx()
			check := func(method string, err error) {
				t.Helper()
				wantErr(t, method+" with a done context", err, dead.Err())
			}
			fresh := "tenant-new-" + c.name

			_, err := s.Load(dead, existing)
			check("Load", err)

			err = s.Save(dead, fresh, connection(t, 2))
			check("Save of a new ID", err)
			wantAbsent(t, live, s, fresh, "after a Save with a done context")
			over := connection(t, 3)
			over.Version = stored.Version
			err = s.Save(dead, existing, over)
			check("Save at the current version", err)
			checkStored(t, live, s, existing, connection(t, 1), stored.Version, "after a Save at the current version with a done context")

			err = s.Delete(dead, existing, stored.Version)
			check("Delete", err)
			checkStored(t, live, s, existing, connection(t, 1), stored.Version, "after a Delete with a done context")

			_, err = s.Lease(dead, "connection/"+fresh, "replica-a", longTTL)
			check("Lease", err)
			if _, err := s.Lease(live, "connection/"+fresh, "replica-b", longTTL); err != nil {
				t.Errorf("Lease by another owner after a Lease with a done context: %v, want the lease", err)
			}

			err = s.Release(dead, held, "holder")
			check("Release", err)
			_, err = s.Lease(live, held, "replica-b", longTTL)
			wantErr(t, "Lease by another owner after its holder's Release with a done context", err, ddoauth.ErrLeaseHeld)

			_, err = s.LoadAPIKey(dead, existing)
			check("LoadAPIKey", err)

			err = s.SaveAPIKey(dead, fresh, apiKey(t, 2))
			check("SaveAPIKey", err)
			_, err = s.LoadAPIKey(live, fresh)
			wantErr(t, "LoadAPIKey after a SaveAPIKey with a done context", err, ddoauth.ErrNotFound)

			_, err = s.Use(dead, "state-"+c.name, later)
			check("Use", err)
			if first, err := s.Use(live, "state-"+c.name, later); err != nil || !first {
				t.Errorf("Use after a Use with a done context: %t, %v, want true: nothing was recorded", first, err)
			}
		})
	}
}
