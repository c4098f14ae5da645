package retry

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDelay(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := Policy{}
	for attempt := 1; attempt < 4; attempt++ {
		d, ok := p.Delay(ctx, attempt, 0)
		assert.True(t, ok)
		full := 250 * time.Millisecond << (attempt - 1)
		assert.GreaterOrEqual(t, d, full/2)
		assert.LessOrEqual(t, d, full)
	}
	_, ok := p.Delay(ctx, 4, 0)
	assert.False(t, ok, "four tries at most")

	d, ok := p.Delay(ctx, 1, 3*time.Second)
	assert.True(t, ok)
	assert.Equal(t, 3*time.Second, d, "the server's wait is honoured")
	_, ok = p.Delay(ctx, 1, time.Minute)
	assert.False(t, ok, "without a deadline, a wait longer than Max is not waited for")

	d, ok = Policy{Attempts: 10, Base: time.Second, Max: 2 * time.Second}.Delay(ctx, 8, 0)
	assert.True(t, ok)
	assert.LessOrEqual(t, d, 2*time.Second)
}

func TestDelayWithinDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		tests := []struct {
			name string
			wait time.Duration
			want time.Duration
			ok   bool
		}{
			{"longer than Max, before the deadline", 45 * time.Second, 45 * time.Second, true},
			{"ends at the deadline", time.Minute, 0, false},
			{"beyond the deadline", time.Hour, 0, false},
		}
		for _, tt := range tests {
			d, ok := Policy{}.Delay(ctx, 1, tt.wait)
			assert.Equal(t, tt.ok, ok, tt.name)
			assert.Equal(t, tt.want, d, tt.name)
		}
		time.Sleep(59*time.Second + 900*time.Millisecond)
		_, ok := Policy{}.Delay(ctx, 1, 0)
		assert.False(t, ok, "a backoff that would outlast the deadline is not slept")
	})
}

func TestSleep(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		assert.NoError(t, Sleep(t.Context(), 5*time.Second))
		assert.Equal(t, 5*time.Second, time.Since(start))

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		assert.ErrorIs(t, Sleep(ctx, time.Hour), context.DeadlineExceeded)
	})
}
