package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSendDataRunsEverySite(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, runEmulated(t.Context(), &out))
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	require.Len(t, lines, 10, out.String())
	for _, want := range []string{
		"US1 series@api.datadoghq.com logs@http-intake.logs.datadoghq.com events@api.datadoghq.com 1",
		"EU1 series@api.datadoghq.eu logs@http-intake.logs.datadoghq.eu events@api.datadoghq.eu 1",
		"US2-FED series@api.us2.ddog-gov.com logs@http-intake.logs.us2.ddog-gov.com events@api.us2.ddog-gov.com 1",
	} {
		assert.Contains(t, lines[1:], want, out.String())
	}
}

func TestSendDataLiveRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.json")
	require.NoError(t, os.WriteFile(unknown, []byte(`{"site":"us7.datadoghq.com"}`), 0o600))
	for name, tc := range map[string]struct{ path, key string }{
		"no key":       {unknown, ""},
		"missing file": {filepath.Join(dir, "absent.json"), "key"},
		"unknown site": {unknown, "key"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assert.Error(t, runLive(t.Context(), tc.path, tc.key))
		})
	}
}
