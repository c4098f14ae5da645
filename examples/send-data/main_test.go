package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/examples/internal/clitest"
)

// TestMain runs main instead of the tests in the copies TestHelp starts.
func TestMain(m *testing.M) { clitest.Main(m, main) }

func TestSendDataRunsEverySite(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), nil, func(string) string { return "" }, &out, nil))
	lines := rows(out.String())
	require.Len(t, lines, 10, out.String())
	for _, want := range []string{
		"US1 series@api.datadoghq.com logs@http-intake.logs.datadoghq.com events@api.datadoghq.com 1",
		"EU1 series@api.datadoghq.eu logs@http-intake.logs.datadoghq.eu events@api.datadoghq.eu 1",
		"US2-FED series@api.us2.ddog-gov.com logs@http-intake.logs.us2.ddog-gov.com events@api.us2.ddog-gov.com 1",
	} {
		assert.Contains(t, lines[1:], want, out.String())
	}
}

// TestSiteSpellings: -site and DD_SITE take a site's name in any case, its
// domain, a host or an origin, and send to that site only.
func TestSiteSpellings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ flag, env string }{
		{"eu1", ""}, {"EU1", ""}, {"datadoghq.eu", ""}, {"", "eu1"}, {"", "https://app.datadoghq.eu"},
	} {
		t.Run(tc.flag+"/"+tc.env, func(t *testing.T) {
			t.Parallel()
			var args []string
			if tc.flag != "" {
				args = []string{"-site", tc.flag}
			}
			var out bytes.Buffer
			require.NoError(t, run(t.Context(), args, func(k string) string { return map[string]string{"DD_SITE": tc.env}[k] }, &out, nil))
			assert.Equal(t, []string{"SITE ARRIVED (endpoint@host) EVENTS READ BACK",
				"EU1 series@api.datadoghq.eu logs@http-intake.logs.datadoghq.eu events@api.datadoghq.eu 1"}, rows(out.String()))
		})
	}
	err := run(t.Context(), []string{"-site", "datadoghq.evil.example"}, func(string) string { return "" }, &bytes.Buffer{}, nil)
	assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
}

func TestSendDataLiveRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.json")
	require.NoError(t, os.WriteFile(unknown, []byte(`{"site":"us7.datadoghq.com"}`), 0o600))
	eu1 := filepath.Join(dir, "eu1.json")
	require.NoError(t, os.WriteFile(eu1, []byte(`{"site":"datadoghq.eu","access_token":"a","refresh_token":"r"}`), 0o600))
	for name, tc := range map[string]struct {
		path, key string
		args      []string
	}{
		"no key":       {unknown, "", nil},
		"missing file": {filepath.Join(dir, "absent.json"), "key", nil},
		"unknown site": {unknown, "key", nil},
		"other site":   {eu1, "key", []string{"-site", "us5"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"DDOAUTH_CONNECTION": tc.path, "DD_API_KEY": tc.key}
			assert.Error(t, run(t.Context(), tc.args, func(k string) string { return env[k] }, &bytes.Buffer{}, nil))
		})
	}
}

// TestHelp: -h exits 0, and the usage names the flags and every
// environment variable the command reads; an unknown flag exits 1.
func TestHelp(t *testing.T) {
	t.Parallel()
	clitest.CheckHelp(t, "-site", "DD_SITE", "DDOAUTH_CONNECTION", "DD_API_KEY")
}

// rows is out's lines with their columns single-spaced.
func rows(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}
