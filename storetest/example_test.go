package storetest_test

import (
	"testing"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/storetest"
)

// A partner whose connections live in its own database runs the suite
// from a test of its own. The suite needs that test's *testing.T, so this
// example shows the configuration rather than running it; ddoauth's own
// TestMemoryStoreConformance runs the same on MemoryStore.
func Example() {
	// In the partner's store_test.go:
	//
	//	func TestStore(t *testing.T) { storetest.Test(t, config) }
	config := storetest.Config{
		Open: func(t *testing.T) storetest.Store {
			// A store over a database or schema of its own, emptied or
			// dropped by t.Cleanup: ourstore.New(newTestDatabase(t)).
			return &ddoauth.MemoryStore{}
		},
		// Corrupt, for a store that can hold a record it cannot decode,
		// writes one through the store's own table:
		//
		//	Corrupt: func(t *testing.T, s storetest.Store, id string) {
		//		db.Exec(`INSERT INTO connections (id, version, value) VALUES ($1, 1, 'garbage')`, id)
		//	},
	}
	_ = config
}

// A partner whose store talks to a server checks how it fails, on a
// server the test starts for itself. As with Test, this shows the
// configuration rather than running it; pgstore and redisstore run it on
// private servers.
func ExampleTestOutage() {
	// In the partner's store_test.go:
	//
	//	func TestOutage(t *testing.T) { storetest.TestOutage(t, config) }
	config := storetest.OutageConfig{
		Open: func(t *testing.T) storetest.Store {
			// A store with no records on the test's own server:
			// ourstore.New(srv.Connect(t)).
			return &ddoauth.MemoryStore{}
		},
		// Restart: func(t *testing.T) { srv.Restart(t) },
		// Stop:    func(t *testing.T) { srv.Stop(t) },
		// Dial:    func(t *testing.T, addr string) storetest.Store { return ourstore.New(ourclient.Dial(addr)) },
	}
	_ = config
}
