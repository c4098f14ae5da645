// Package fleet proves, with separate OS processes, that replicas sharing
// one Postgres or one Redis refresh a connection once per expiry. It holds
// tests only; `make fleet` runs them and prints, per backend and mode:
//
//	fleet <backend>: <P> token POSTs for <E> expiries, <X> caller errors, stored refresh token live: <yes|no>
//
// A test starts the emulator (package ddoauthtest) with 4 s access tokens
// and rotating refresh tokens (strict rotation, then reuse detection,
// where a rotated-out refresh token sent again revokes the grant), starts
// a private server of the store, and re-executes its own test binary as
// four processes (TestFleetChild), each calling one [ddoauth.TokenSource]
// from 16 goroutines. Once all are ready it authorizes one connection and
// saves it; the processes run until each has served 20 tokens after the
// first. P counts the refresh requests Datadog saw, E the distinct tokens
// the fleet served after the first, X the callers' errors; the stored
// refresh token is spent once more to prove it alive. A process also
// sends the token it serves to Datadog a few times a second and counts
// refusals. Children read their settings from one environment variable,
// die with the test binary (Pdeathsig) and exit once their standard input
// closes, so none outlives the test.
//
// Faults and a control print `fault` and `control` lines: the store
// restarted while a refresh is due, the store down between a refresh's
// POST and its write, replicas whose clocks differ, the lease holder
// killed, and the same fleet without the lease, which must fail the
// checks the others pass.
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
// the old refresh token valid until the new one is first used. A store
// outage that starts between the POST and the write and outlasts the
// lease (RefreshTimeout and a quarter) can end the same way, since
// another replica may then take the lease before the holder writes: keep
// RefreshTimeout longer than the store's outages.
//
// Clocks: leases are timed by the store's clock, so replicas whose clocks
// differ still refresh once per expiry; but a token's expiry is stamped by
// the clock of the replica that refreshed it, so Config.RefreshMargin must
// exceed the largest difference between two replicas' clocks, or the
// replica whose clock runs behind serves tokens Datadog has expired.
package fleet
