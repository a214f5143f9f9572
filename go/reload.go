package hotgo

import (
	"errors"
	"fmt"
	"net/http"
)

// errnoEINVAL is sent as ERRNO when a reload fails.
const errnoEINVAL = 22

// RunReload runs the [Server.Reload] hook as SIGHUP would and reports the
// outcome on NOTIFY_SOCKET: RELOADING=1 (with MONOTONIC_USEC) before the
// hook, then READY=1 on success, or "STATUS=reload failed: <err>" with
// ERRNO=22 followed by READY=1 on failure (see the package documentation).
// It returns the hook's error; a nil hook and a panicking hook count as
// failures. Reloads are serialized. While the server drains, RunReload
// sends nothing and returns [ErrDraining].
func (s *Server) RunReload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.draining.Load() {
		return ErrDraining
	}
	if err := Reloading(); err != nil {
		s.logf("notify RELOADING=1: %v", err)
	}
	err := s.callReload()
	if err != nil {
		msg := fmt.Sprintf("STATUS=reload failed: %s\nERRNO=%d", oneLine(err.Error()), errnoEINVAL)
		if _, nerr := Notify(msg); nerr != nil {
			s.logf("notify STATUS: %v", nerr)
		}
	}
	if nerr := Ready(); nerr != nil {
		s.logf("notify READY=1: %v", nerr)
	}
	return err
}

func (s *Server) callReload() (err error) {
	if s.Reload == nil {
		return errors.New("no reload hook configured")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reload hook panicked: %v", r)
		}
	}()
	return s.Reload()
}

// ReloadHandler returns an http.Handler that runs [Server.RunReload] on
// POST and answers 200 "ok", or 500 with the error text when the reload
// failed (503 while draining). Other methods get 405. Mount it where hotgo's
// "http:POST" reload method (the default on Windows) expects it, e.g.
//
//	mux.Handle("POST /-/reload", srv.ReloadHandler())
func (s *Server) ReloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if err := s.RunReload(); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, ErrDraining) {
				code = http.StatusServiceUnavailable
			}
			http.Error(w, err.Error(), code)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("ok\n"))
	})
}
