# Tools run at pinned versions through `go install`/`go run`, so a machine needs only Go.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 30s

.PHONY: test bench fuzz cover chromium servers fleet send-data

# make test runs every check and every test, each package compiled once
# per build mode:
# - go test runs go vet's whole suite (-vet=all) on what it compiles, so
#   there is no separate go vet build.
# - The packages that use the official Datadog client (CLIENT) run
#   without -race: its generated datadogV1 and datadogV2 take minutes and
#   about 7 GB to compile, and -race would make that a second compile.
#   The README check (whose snippets use the client) runs after them and
#   reuses that compile.
# - Every other package runs with -race. (Not -p 4: the fleet's
#   store-outage tests time a Postgres restart, which other packages'
#   work next to them slows past what the tests allow.)
# - staticcheck reads the export data those builds left in the cache
#   (GOFLAGS=-race for the -race packages).
IMPORTS = go list -f '{{.ImportPath}} {{join .Deps " "}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./...
README_CHECK = github.com/ddoauth/ddoauth/internal/readmetest
CLIENT = $(filter-out $(README_CHECK),$(shell $(IMPORTS) | grep ' github.com/DataDog/datadog-api-client-go/v2/' | cut -d' ' -f1))
RACE = $(filter-out $(CLIENT) $(README_CHECK),$(shell go list ./...))

test:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go test -race -vet=all -count=1 $(RACE)
	go test -vet=all -count=1 $(CLIENT)
	go test -vet=all -count=1 $(README_CHECK)
	@bin=$$(mktemp -d) && trap 'rm -rf "$$bin"' EXIT && set -x && \
	GOBIN=$$bin go install $(STATICCHECK) && \
	GOFLAGS=-race $$bin/staticcheck $(RACE) && \
	$$bin/staticcheck $(CLIENT) $(README_CHECK)

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
