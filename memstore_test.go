package ddoauth_test

import (
	"testing"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/storetest"
)

// MemoryStore keeps no record it could not decode, so the corrupt-record
// check is left to the shared stores.
func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Test(t, storetest.Config{
		Open: func(*testing.T) storetest.Store { return &ddoauth.MemoryStore{} },
	})
}
