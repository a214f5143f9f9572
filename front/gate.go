package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// gate holds new requests while hotgo hands off, counts the requests let in, and says which
// upstream connections may still be used. Its per-request path is a few atomic operations.
type gate struct {
	paused   atomic.Bool
	gen      atomic.Int64 // bumped at each pause, hold and resume: older upstream connections are not used again
	inflight atomic.Int64 // let in, the answer not all passed on yet
	asking   atomic.Int64 // let in, the answer's head not come yet

	mu     sync.Mutex
	open   chan struct{} // closed when not paused
	pauses int           // which pause an automatic resume belongs to
	relays map[idler]struct{}
}

// idler holds upstream connections: a relay, or the event loop (for all of its connections).
type idler interface {
	// closeIfIdle closes the upstream connections dialled before generation gen that no request
	// uses. The event loop also lets requests it parked while paused go, if no longer paused.
	closeIfIdle(gen int64)
}

func newGate() *gate {
	g := &gate{open: make(chan struct{}), relays: map[idler]struct{}{}}
	close(g.open)
	return g
}

// enter lets a request in, waiting while paused.
func (g *gate) enter() {
	for !g.tryEnter() {
		g.mu.Lock()
		open := g.open
		g.mu.Unlock()
		<-open
	}
}

// tryEnter lets a request in unless paused.
func (g *gate) tryEnter() bool {
	g.inflight.Add(1)
	g.asking.Add(1)
	if !g.paused.Load() { // seen after the counts: a pause either sees them or is seen here
		return true
	}
	g.inflight.Add(-1)
	g.asking.Add(-1)
	return false
}

// turn is one request let in: what of it the gate still counts.
type turn struct {
	g                *gate
	asking, inFlight bool
}

// headCame: the answer's head came (a hold no longer waits for it).
func (t *turn) headCame() {
	if t.asking {
		t.asking = false
		t.g.asking.Add(-1)
	}
}

// upgraded: the connection is a tunnel now, no request in flight (a pause does not wait for it).
func (t *turn) upgraded() {
	t.headCame()
	if t.inFlight {
		t.inFlight = false
		t.g.inflight.Add(-1)
	}
}

// end: the whole answer was passed on, or never will be.
func (t *turn) end() { t.upgraded() }

// stop holds new requests, makes every upstream connection open now stale, waits (at most wait)
// until the count reaches 0, closes the stale connections that are idle and returns what is left.
// Unless resumed first, it resumes by itself after hold.
func (g *gate) stop(count *atomic.Int64, wait, hold time.Duration) int64 {
	g.mu.Lock()
	if !g.paused.Load() {
		g.open = make(chan struct{})
		g.paused.Store(true)
	}
	g.gen.Add(1)
	g.pauses++
	pause := g.pauses
	g.mu.Unlock()
	time.AfterFunc(hold, func() { g.resume(pause) })
	deadline := time.Now().Add(wait)
	waitZero(count, deadline)
	left := count.Load()
	// Answers under way usually end within microseconds: a moment for them, so that the front door,
	// not the draining server, closes their connections (a stream is not waited for).
	if settle := time.Now().Add(endingWait); settle.Before(deadline) {
		waitZero(&g.inflight, settle)
	}
	g.closeIdle()
	return left
}

// endingWait: how long stop gives the answers under way to end, once the count it waits for is 0.
const endingWait = 100 * time.Millisecond

func waitZero(count *atomic.Int64, deadline time.Time) {
	for count.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Microsecond)
	}
}

// resume lets requests go again, on new upstream connections; pause < 0: whatever pause it is.
func (g *gate) resume(pause int) {
	g.mu.Lock()
	if g.paused.Load() && (pause < 0 || pause == g.pauses) {
		g.gen.Add(1) // before the requests go: each sees the new generation of connections
		g.paused.Store(false)
		close(g.open)
	}
	g.mu.Unlock()
	g.closeIdle()
}

func (g *gate) add(r idler) {
	g.mu.Lock()
	g.relays[r] = struct{}{}
	g.mu.Unlock()
}

func (g *gate) remove(r idler) {
	g.mu.Lock()
	delete(g.relays, r)
	g.mu.Unlock()
}

// closeIdle closes the stale upstream connections no request uses: the front door ends them
// first, so the generation they belong to sees its clients leave rather than cutting them.
func (g *gate) closeIdle() {
	gen := g.gen.Load()
	g.mu.Lock()
	relays := make([]idler, 0, len(g.relays))
	for r := range g.relays {
		relays = append(relays, r)
	}
	g.mu.Unlock()
	for _, r := range relays {
		r.closeIfIdle(gen)
	}
}
