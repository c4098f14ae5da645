package ddoauth

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsedSetExpires(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := &usedSet{now: func() time.Time { return now }}
	ctx := context.Background()
	for _, tc := range []struct {
		advance time.Duration
		key     string
		want    bool
	}{
		{0, "a", true},
		{0, "a", false},
		{0, "b", true},
		{10*time.Minute - time.Second, "a", false},
		{time.Second, "a", true}, // a's record ends at 10 minutes
		{0, "a", false},
	} {
		now = now.Add(tc.advance)
		first, err := u.Use(ctx, tc.key, now.Add(10*time.Minute))
		require.NoError(t, err)
		assert.Equal(t, tc.want, first, "%s at +%s", tc.key, tc.advance)
	}
	now = now.Add(time.Hour)
	_, err := u.Use(ctx, "c", now.Add(time.Minute))
	require.NoError(t, err)
	assert.Len(t, u.m, 1, "expired records are swept")
}

func TestCookieNamesAreDistinctAndOpaque(t *testing.T) {
	t.Parallel()
	a, b := cookieName("state-one"), cookieName("state-two")
	assert.NotEqual(t, a, b)
	assert.NotContains(t, a, "state")
	assert.Len(t, a, len("ddoauth_")+16)
	assert.NotEqual(t, usedKey("state-one"), usedKey("state-two"))
}
