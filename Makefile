# Tools run at pinned versions through `go run`, so a machine needs only Go.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 30s

.PHONY: test bench fuzz cover chromium servers fleet

test:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...
	go test -race -count=1 ./...

bench:
	go test -run '^$$' -bench . -benchmem -count 5 ./...

# Go fuzzes one target at a time.
fuzz:
	for f in FuzzResolveSite FuzzCallbackHandler FuzzOnboardingHandler FuzzTokenResponse; do \
		go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) . || exit 1; \
	done

cover:
	go test -count=1 -coverprofile=cover.out ./...
	go tool cover -func=cover.out | tail -1

# Headless Chromium for the browser test (internal/browsertest), at the path
# the test runs; the test skips without it unless DDOAUTH_REQUIRE_BROWSER=1.
chromium:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium && test -x /usr/bin/chromium)

# Postgres and Redis from Debian's packages, for the shared-store tests
# (pgstore, redisstore, the fleet). Those tests start private instances of
# these binaries and skip without them unless DDOAUTH_REQUIRE_SERVERS=1.
servers:
	@if command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; else \
		apt-get update && apt-get install -y postgresql redis-server; fi
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null && command -v redis-server >/dev/null

# The fleet, proven with OS processes (internal/fleet): four copies of the
# test binary share one Postgres, then one Redis, through 20 token expiries,
# in strict rotation and with reuse detection. Prints a `fleet <backend>:`
# line per backend and mode, and `fault` and `control` lines for the other
# runs. Run from the package's directory so that go test prints them.
# Needs `make servers`.
fleet:
	cd internal/fleet && DDOAUTH_REQUIRE_SERVERS=1 go test -race -count=1 -run '^TestFleet'
