# Tools run at pinned versions through `go run`, so a machine needs only Go.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 30s

.PHONY: test test-official bench fuzz cover chromium servers fleet send-data

# The official Datadog client's generated packages, datadogV1 and
# datadogV2, take minutes and about 7 GB to compile from a cold cache,
# more than the rest of the module with -race. `make test` leaves the
# packages that use them (BIG), and the README check whose snippets do, to
# `make test-official`, which compiles them once: for go vet, and the
# tests reuse that compile. The packages that use only the client's core
# (CLIENT) run without -race too, so the core and its C zstd library
# compile once. go test runs with -vet=off: go vet has run every check
# go test would, and go test's own vet would analyze every dependency
# again. The fleet's tests, which run for real minutes of token expiries,
# are `make fleet`'s.
IMPORTS = go list -f '{{.ImportPath}} {{join .Deps " "}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./...
BIG = $(shell $(IMPORTS) | grep -E ' github.com/DataDog/datadog-api-client-go/v2/api/datadogV[12]( |$$)' | cut -d' ' -f1) \
	github.com/ddoauth/ddoauth/internal/readmetest
CLIENT = $(shell $(IMPORTS) | grep ' github.com/DataDog/datadog-api-client-go/v2/' | cut -d' ' -f1)
CORE = $(filter-out $(BIG),$(shell go list ./...))

test:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet $(CORE)
	go run $(STATICCHECK) $(CORE)
	go test -race -vet=off -count=1 $(filter-out $(CLIENT) github.com/ddoauth/ddoauth/internal/fleet,$(CORE))
	go test -vet=off -count=1 $(filter-out $(BIG),$(CLIENT))

test-official:
	go vet $(BIG)
	go run $(STATICCHECK) $(BIG)
	go test -vet=off -count=1 $(BIG)

# go run prints nothing while it compiles: say so before.
send-data:
	@echo "send-data: the first run compiles the official Datadog client (datadogV1, datadogV2): minutes, about 7 GB of memory" >&2
	go run ./examples/send-data

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
