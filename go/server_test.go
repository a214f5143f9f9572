package hotgo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sharedListeners returns two listeners on one socket, as the old and the
// new generation have in inherit mode.
func sharedListeners(t *testing.T) (net.Listener, net.Listener) {
	t.Helper()
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := l1.(*net.TCPListener).File()
	if err != nil {
		l1.Close()
		t.Skipf("cannot share a listening socket here: %v", err)
	}
	defer f.Close()
	l2, err := net.FileListener(f)
	if err != nil {
		l1.Close()
		t.Skipf("cannot share a listening socket here: %v", err)
	}
	return l1, l2
}

func namedHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, name)
	})
}

// TestDrainUnderLoad hammers an old and a new generation sharing one socket
// with 16 keep-alive clients, drains the old one mid-load and expects every
// request to succeed.
func TestDrainUnderLoad(t *testing.T) {
	t.Setenv(EnvNotifySocket, "")
	t.Setenv(EnvGeneration, "7")
	l1, l2 := sharedListeners(t)
	addr := l1.Addr().String()

	oldSrv := &Server{Server: &http.Server{Handler: namedHandler("old")}, Grace: 500 * time.Millisecond}
	newSrv := &Server{Server: &http.Server{Handler: namedHandler("new")}}
	oldDone := make(chan error, 1)
	newDone := make(chan error, 1)
	// As with hotgo: the old generation serves alone, the new one starts
	// on the same socket while the clients keep going, the old one drains.
	go func() { oldDone <- oldSrv.Serve(l1) }()

	const clients = 16
	const load = 2 * time.Second
	var (
		drained   atomic.Bool
		requests  atomic.Int64
		fromOld   atomic.Int64
		fromNew   atomic.Int64
		oldAfter  atomic.Int64 // answered by old after its drain finished
		errMu     sync.Mutex
		errs      []string
		wg        sync.WaitGroup
		deadline  = time.Now().Add(load)
		transport []*http.Transport
	)
	addErr := func(s string) {
		errMu.Lock()
		if len(errs) < 20 {
			errs = append(errs, s)
		}
		errMu.Unlock()
	}
	for i := 0; i < clients; i++ {
		// One keep-alive connection per client.
		tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
		transport = append(transport, tr)
		cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				// POST without GetBody: the transport never retries it,
				// so a dropped request shows up as an error.
				req, _ := http.NewRequest("POST", "http://"+addr+"/", strings.NewReader("x"))
				req.GetBody = nil
				after := drained.Load()
				resp, err := cl.Do(req)
				requests.Add(1)
				if err != nil {
					addErr(fmt.Sprintf("client %d req %d: %v", i, n, err))
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					addErr(fmt.Sprintf("client %d req %d: status %d, %v", i, n, resp.StatusCode, err))
					continue
				}
				if g := resp.Header.Get(GenerationHeader); g != "7" {
					addErr(fmt.Sprintf("%s header %q", GenerationHeader, g))
				}
				switch string(body) {
				case "old":
					fromOld.Add(1)
					if after {
						oldAfter.Add(1)
					}
				case "new":
					fromNew.Add(1)
				default:
					addErr(fmt.Sprintf("body %q", body))
				}
			}
		}(i)
	}

	time.Sleep(load / 8)
	go func() { newDone <- newSrv.Serve(l2) }()
	time.Sleep(load / 8)
	if fromOld.Load() == 0 {
		t.Error("old generation served nothing before the drain")
	}
	start := time.Now()
	if err := oldSrv.Drain(context.Background()); err != nil {
		t.Errorf("Drain: %v", err)
	}
	drained.Store(true)
	t.Logf("drain took %v", time.Since(start))
	select {
	case err := <-oldDone:
		if err != nil {
			t.Errorf("old Serve returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("old Serve did not return after Drain")
	}
	wg.Wait()
	for _, tr := range transport {
		tr.CloseIdleConnections()
	}

	if err := newSrv.Drain(context.Background()); err != nil {
		t.Errorf("new Drain: %v", err)
	}
	if err := <-newDone; err != nil {
		t.Errorf("new Serve returned %v", err)
	}
	t.Logf("%d requests: %d old, %d new", requests.Load(), fromOld.Load(), fromNew.Load())
	for _, e := range errs {
		t.Error(e)
	}
	if oldAfter.Load() != 0 {
		t.Errorf("%d requests answered by the old generation after its drain", oldAfter.Load())
	}
	if fromNew.Load() == 0 {
		t.Error("new generation served nothing")
	}
}

func TestServeReturnsAfterDrainWithoutConnections(t *testing.T) {
	t.Setenv(EnvNotifySocket, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Server: &http.Server{Handler: namedHandler("x")}, Grace: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	waitServing(t, l.Addr().String())
	start := time.Now()
	if err := srv.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("drain without connections took %v; the grace period should end early", d)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v", err)
	}
	if err := srv.Serve(l); err == nil {
		t.Error("second Serve succeeded")
	}
}

func TestDrainingResponsesCloseConnection(t *testing.T) {
	t.Setenv(EnvNotifySocket, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	srv := &Server{Server: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "done")
	})}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	resc := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get("http://" + l.Addr().String() + "/")
		if err != nil {
			t.Error(err)
			close(resc)
			return
		}
		resc <- resp
	}()
	<-entered
	drainDone := make(chan error, 1)
	go func() { drainDone <- srv.Drain(context.Background()) }()
	// Clients are told to reconnect once the listener is really closed.
	for !srv.closing.Load() {
		time.Sleep(time.Millisecond)
	}
	close(release)
	resp := <-resc
	if resp == nil {
		t.FailNow()
	}
	resp.Body.Close()
	if !resp.Close {
		t.Errorf("response during drain has no Connection: close (Close=%v)", resp.Close)
	}
	if err := <-drainDone; err != nil {
		t.Error(err)
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestReloadHandler(t *testing.T) {
	t.Setenv(EnvNotifySocket, "")
	fail := false
	srv := &Server{Reload: func() error {
		if fail {
			return errors.New("bad config")
		}
		return nil
	}}
	h := srv.ReloadHandler()
	do := func(method string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/-/reload", nil))
		return rec
	}
	if rec := do("POST"); rec.Code != 200 {
		t.Errorf("POST: %d %q", rec.Code, rec.Body)
	}
	fail = true
	if rec := do("POST"); rec.Code != 500 || !strings.Contains(rec.Body.String(), "bad config") {
		t.Errorf("failing POST: %d %q", rec.Code, rec.Body)
	}
	if rec := do("GET"); rec.Code != 405 {
		t.Errorf("GET: %d", rec.Code)
	}
	srv.Reload = func() error { panic("boom") }
	if rec := do("POST"); rec.Code != 500 || !strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("panicking hook: %d %q", rec.Code, rec.Body)
	}
}

// waitServing waits until addr answers HTTP.
func waitServing(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never answered", addr)
}
