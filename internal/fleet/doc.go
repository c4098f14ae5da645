// Package fleet proves, with separate OS processes, that replicas sharing
// one Postgres or one Redis refresh a connection once per expiry. It holds
// tests only: `make fleet` runs them and prints one line per backend and
// mode.
//
// A test starts the emulator (package ddoauthtest) with short-lived access
// tokens and rotating refresh tokens, starts a private server of the
// store, and re-executes its own test binary as four processes
// (TestFleetChild), each with one [ddoauth.TokenSource] called from many
// goroutines. Once all are ready it authorizes one connection, saves it
// and lets them run until 20 access tokens have expired. It then counts
// the token requests Datadog saw, the callers' errors, and refreshes the
// stored refresh token once more to prove it is alive. The children read
// their settings from one environment variable and exit when their
// standard input closes, so none outlives the test.
//
// A lease holder killed (kill -9) after Datadog answered its refresh and
// before it saved the result takes the only live refresh token with it
// when refresh tokens rotate: Datadog retired the stored one the moment it
// issued the new one, and only the dead process ever held the new one.
// Once the lease expires, the next replica spends the stored token, gets
// invalid_grant, finds the stored connection unchanged, marks it Revoked
// and returns [ddoauth.ErrRevoked], so every replica and the partner see a
// connection that needs authorizing again, never a silent dead token.
// No client can avoid this loss on its own: it would take Datadog keeping
// the old refresh token valid until the new one is first used.
//
// Clocks: leases are timed by the store's clock, so replicas whose clocks
// differ still refresh once per expiry; but a token's expiry is stamped by
// the clock of the replica that refreshed it, so Config.RefreshMargin must
// exceed the largest difference between two replicas' clocks, or the
// slowest replica serves a token Datadog already considers expired.
package fleet
