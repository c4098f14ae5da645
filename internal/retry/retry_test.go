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
	p := Policy{}
	for attempt := 1; attempt < 4; attempt++ {
		d, ok := p.Delay(attempt, 0)
		assert.True(t, ok)
		full := 250 * time.Millisecond << (attempt - 1)
		assert.GreaterOrEqual(t, d, full/2)
		assert.LessOrEqual(t, d, full)
	}
	_, ok := p.Delay(4, 0)
	assert.False(t, ok, "four tries at most")

	d, ok := p.Delay(1, 3*time.Second)
	assert.True(t, ok)
	assert.Equal(t, 3*time.Second, d, "Retry-After is honoured")
	_, ok = p.Delay(1, time.Minute)
	assert.False(t, ok, "a Retry-After longer than Max is not waited for")

	d, ok = Policy{Attempts: 10, Base: time.Second, Max: 2 * time.Second}.Delay(8, 0)
	assert.True(t, ok)
	assert.LessOrEqual(t, d, 2*time.Second)
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
