package ddoauth

import (
	"context"
	"errors"
	"time"
)

// Errors of the store contract.
var (
	// ErrConflict: a conditional write found the record changed since the
	// writer read it (another replica or the partner wrote it, or a newer
	// lease fenced the writer off). Nothing was written: read again.
	ErrConflict = errors.New("stored record changed since it was read")
	// ErrLeaseHeld: another owner holds the lease.
	ErrLeaseHeld = errors.New("lease held by another owner")
)

// Store keeps connections by an ID the partner chooses (its customer or
// tenant ID), for every replica that serves them. Every write is
// conditional on the version the writer read, so that a replica working
// from a stale copy never overwrites a newer connection: with rotating
// refresh tokens the newer copy may hold the only live one.
//
// Implementations must be safe for concurrent use, and Save must be
// durable when it returns: a refreshed token is handed out only after
// Save succeeds. [MemoryStore] is one for a single process; the pgstore
// and redisstore packages serve a fleet, and storetest checks any other.
type Store interface {
	// Load returns the connection saved under id with its Version and
	// Fence set, or an error wrapping ErrNotFound.
	Load(ctx context.Context, id string) (*Connection, error)

	// Save writes conn under id if the record is still at conn.Version
	// (zero: if there is none), and, when conn.Fence is not zero, if no
	// write with a higher Fence has landed on the record. It then sets
	// conn.Version to the new version. Otherwise it writes nothing and
	// returns an error wrapping ErrConflict.
	Save(ctx context.Context, id string, conn *Connection) error

	// Delete removes the record under id if it is at version. It returns
	// an error wrapping ErrConflict if the record changed, and one
	// wrapping ErrNotFound if there is none.
	Delete(ctx context.Context, id string, version int64) error
}

// Leaser grants leases across the replicas that share a store, so that
// one of them at a time refreshes a connection or creates an API key.
// [MemoryStore] and the fleet stores implement it; a [TokenSource] over a
// Store without it shares refreshes within its process only.
//
// A lease is timed by the store's clock, never a replica's, and carries a
// fence: a number the store never gave before, larger than every earlier
// one. Writes made under the lease carry it in [Connection.Fence], and the
// store refuses them once a write under a newer lease has landed, so a
// holder paused past its lease cannot write over its successor.
//
// A TokenSource leases "connection/<id>" while it refreshes; EnsureAPIKey
// leases "apikey/<id>" while it asks Datadog for the key.
type Leaser interface {
	// Lease gives the lease on name to owner for ttl if it is free,
	// expired, or owner's already, and returns its fence. It returns an
	// error wrapping ErrLeaseHeld if another owner holds it.
	Lease(ctx context.Context, name, owner string, ttl time.Duration) (fence int64, err error)

	// Release ends owner's lease on name. It does nothing when owner does
	// not hold it, so a holder whose lease expired cannot end its
	// successor's.
	Release(ctx context.Context, name, owner string) error
}

// Lease names: one namespace per resource, so that a connection and an
// API key saved under the same ID do not share a lease. The Leaser doc
// names them for operators.
func connectionLease(id string) string { return "connection/" + id }
func apiKeyLease(id string) string     { return "apikey/" + id }
