package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/examples/internal/clitest"
)

func TestQuickstartRunsEverySite(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, runEmulated(t.Context(), ddoauth.Site{}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 10, out.String())
	for _, want := range []string{
		"US1 app.datadoghq.com api.datadoghq.com http-intake.logs.datadoghq.com ok",
		"EU1 app.datadoghq.eu api.datadoghq.eu http-intake.logs.datadoghq.eu ok",
		"US2-FED us2.ddog-gov.com api.us2.ddog-gov.com http-intake.logs.us2.ddog-gov.com ok",
	} {
		found := false
		for _, l := range lines[1:] {
			found = found || strings.Join(strings.Fields(l), " ") == want
		}
		assert.True(t, found, "no row %q in\n%s", want, out.String())
	}
	for _, l := range lines[1:] {
		assert.True(t, strings.HasSuffix(l, " ok"), l)
	}
}

// TestSiteSpellings: -site and DD_SITE take a site's name in any case, its
// domain, a host or an origin, and run the flow for that site only.
func TestSiteSpellings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ flag, env string }{
		{"eu1", ""}, {"EU1", ""}, {"datadoghq.eu", ""}, {"https://app.datadoghq.eu/", ""},
		{"", "eu1"}, {"", "datadoghq.eu"}, {"eu1", "us5"},
	} {
		t.Run(tc.flag+"/"+tc.env, func(t *testing.T) {
			t.Parallel()
			var args []string
			if tc.flag != "" {
				args = []string{"-site", tc.flag}
			}
			var out bytes.Buffer
			require.NoError(t, run(t.Context(), args, func(k string) string { return map[string]string{"DD_SITE": tc.env}[k] }, &out))
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			require.Len(t, lines, 2, out.String())
			assert.Equal(t, "EU1 app.datadoghq.eu api.datadoghq.eu http-intake.logs.datadoghq.eu ok", strings.Join(strings.Fields(lines[1]), " "))
		})
	}
	err := run(t.Context(), []string{"-site", "datadoghq.evil.example"}, func(string) string { return "" }, &bytes.Buffer{})
	assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
}

// TestMain runs main instead of the tests in the copies TestHelp starts.
func TestMain(m *testing.M) { clitest.Main(m, main) }

// TestHelp: -h exits 0, and the usage names the flags and every
// environment variable the command reads; an unknown flag exits 1.
func TestHelp(t *testing.T) {
	t.Parallel()
	clitest.CheckHelp(t, "-site", "DD_SITE", "DD_CLIENT_ID", "DD_CLIENT_SECRET", "DD_REDIRECT_URL")
}
