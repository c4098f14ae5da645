package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstartRunsEverySite(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, runEmulated(t.Context(), &out))
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
