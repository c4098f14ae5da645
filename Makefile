# Tools run at pinned versions through `go install`/`go run`, so a machine needs only Go.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 30s

.PHONY: test test-v2 bench fuzz cover chromium servers fleet send-data

# make test runs every check and every test, each package compiled once:
# - One go test -race for every package, so that one package's compile
#   goes on while another's tests wait (the fleet, Postgres, Redis). go
#   test runs go vet's whole suite (-vet=all) on what it compiles: there is
#   no separate go vet build.
# - The official client is tested with its datadogV1 (half a minute to
#   compile); datadogV2 takes minutes and about 7 GB, so its own tests are
#   in test-v2.
# - The README check runs after, its go vet with -race, reusing that
#   compile rather than making a second one alongside.
# - staticcheck is built meanwhile, at low priority, and runs next to the
#   README check on the export data the tests left in the cache
#   (GOFLAGS=-race).
README_CHECK = github.com/ddoauth/ddoauth/internal/readmetest
PKGS = $(filter-out $(README_CHECK),$(shell go list ./...))

test:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@set -e; bin=$$(mktemp -d); \
	TMPDIR=$$bin GOBIN=$$bin nice -n 19 go install $(STATICCHECK) >$$bin/install.log 2>&1 & install=$$!; \
	trap 'kill $$install $$readme 2>/dev/null || true; wait; rm -rf "$$bin"' EXIT; \
	trap 'exit 130' INT TERM HUP; \
	set -x; \
	go test -race -vet=all -count=1 $(PKGS); \
	go test -race -vet=all -count=1 $(README_CHECK) & readme=$$!; \
	wait $$install || { cat $$bin/install.log; exit 1; }; install=; \
	GOFLAGS=-race $$bin/staticcheck ./... || lint=$$?; \
	wait $$readme; readme=; \
	exit $${lint:-0}

# datadogV2 through the same transport as datadogV1: the v2 intakes, in
# every encoding it offers, under -race like make test, whose builds it
# reuses; datadogV2 itself takes 4.5 minutes and about 7 GB to compile
# under -race. CI runs it after make test.
test-v2:
	go test -race -vet=all -count=1 -tags datadogv2 ./internal/integration
	@bin=$$(mktemp -d) && trap 'rm -rf "$$bin"' EXIT && set -x && \
	GOBIN=$$bin go install $(STATICCHECK) && \
	GOFLAGS=-race $$bin/staticcheck -tags datadogv2 ./internal/integration

# go run prints nothing while it compiles: say so before.
send-data:
	@echo "send-data: the first run compiles the official Datadog client's datadogV1: about 1.5 minutes" >&2
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
