package discovery

import (
	"math/rand"
	"sort"
	"testing"
	"time"
)

func TestRetryWaitPaced(t *testing.T) {
	for _, round := range []int{0, 1, 5, 1000} {
		if got := retryWait(round, true, 0); got != Pace/2 {
			t.Errorf("round %d, r=0: %v, want %v", round, got, Pace/2)
		}
		if got := retryWait(round, true, 0.5); got != Pace {
			t.Errorf("round %d, r=0.5: %v, want %v", round, got, Pace)
		}
		if got := retryWait(round, true, 0.999999); got >= Pace*3/2 || got < Pace*3/2*99/100 {
			t.Errorf("round %d, r→1: %v, want just under %v", round, got, Pace*3/2)
		}
	}
}

func TestRetryWaitQuickWhenNothingReached(t *testing.T) {
	for round, want := range []time.Duration{1, 2, 4, 5, 5, 5} {
		want *= time.Second
		if got := retryWait(round, false, 0.999999); got > want || got < want*99/100 {
			t.Errorf("round %d, r→1: %v, want just under %v", round, got, want)
		}
		if got := retryWait(round, false, 0); got != 0 {
			t.Errorf("round %d, r=0: %v, want 0 (full jitter)", round, got)
		}
	}
	if got := retryWait(1000, false, 0.5); got != Pace/2 {
		t.Errorf("round 1000: %v", got)
	}
}

// TestHerdModel runs the bench's herd (scripts/bench-herd.sh) as a model
// on a simulated clock: 1,000 agents starting within 2 s, their token
// signed 10 s after the last start, each attempt one request and a
// verification one more; no 429s (the real bench has them: APF answers
// the bursts a fixed retry makes). It holds the policy's design to
// kubeadm's fixed 5 s retry: no more requests, retries that do not come
// back in step (the peak per 0.1 s after the starts at most 0.65 of the
// fixed retry's; 0.6 here: the model has no 429s, which make the fixed
// retry's bursts worse on a real API server, where make bench measures
// issue 21's 0.5), and the p99 time to verified within 1.5 Pace.
func TestHerdModel(t *testing.T) {
	fixed := func(int, *rand.Rand) time.Duration { return 5 * time.Second }
	paced := func(round int, r *rand.Rand) time.Duration { return retryWait(round, true, r.Float64()) }
	// kubeadm fetches cluster-info a second time once verified; the agent
	// verifies its one answer's TLS session instead (issue 21 item 4).
	f := herdModel(fixed, true)
	p := herdModel(paced, false)
	t.Logf("fixed 5 s: %.2f requests per agent, peak %d per 0.1 s after the starts, p99 %v", f.perAgent, f.peak, f.p99)
	t.Logf("paced:     %.2f requests per agent, peak %d per 0.1 s after the starts, p99 %v", p.perAgent, p.peak, p.p99)
	// The paced retry makes, on average, as many attempts as the fixed
	// one (one every 5 s): what it saves is kubeadm's second fetch.
	if p.perAgent > f.perAgent-0.8 {
		t.Errorf("paced: %.2f requests per agent, the fixed retry %.2f: want about one less", p.perAgent, f.perAgent)
	}
	if 100*p.peak > 65*f.peak {
		t.Errorf("paced: peak %d requests per 0.1 s after the starts, more than 0.65 of the fixed retry's %d", p.peak, f.peak)
	}
	if p.p99 > Pace*3/2 {
		t.Errorf("paced: p99 %v after the token, want within %v", p.p99, Pace*3/2)
	}
}

type herdResult struct {
	perAgent float64
	peak     int
	p99      time.Duration
}

func herdModel(wait func(round int, r *rand.Rand) time.Duration, refetch bool) herdResult {
	const agents = 1000
	r := rand.New(rand.NewSource(1))
	startWindow := 2 * time.Second
	signed := startWindow + 10*time.Second + 60*time.Millisecond
	buckets := map[time.Duration]int{}
	requests := 0
	var lat []time.Duration
	for i := 0; i < agents; i++ {
		at := time.Duration(r.Int63n(int64(startWindow)))
		for round := 0; ; round++ {
			requests++
			if at >= startWindow {
				buckets[at/(100*time.Millisecond)]++
			}
			if at >= signed {
				if refetch {
					requests++ // kubeadm's second fetch, over TLS trusting the pinned CA
				}
				lat = append(lat, at-signed)
				break
			}
			at += wait(round, r)
		}
	}
	peak := 0
	for _, n := range buckets {
		peak = max(peak, n)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return herdResult{perAgent: float64(requests) / agents, peak: peak, p99: lat[len(lat)*99/100-1]}
}
