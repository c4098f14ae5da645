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
