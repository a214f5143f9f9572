//go:build unix

package hotgo

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"regexp"
	"syscall"
	"testing"
)

// TestServeNotifyAndSIGHUP checks the notify sequence of a Server: READY=1
// when serving, the reload sequences on SIGHUP, STOPPING=1 on drain.
func TestServeNotifyAndSIGHUP(t *testing.T) {
	next := notifySocket(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hookErr := make(chan error, 1)
	srv := &Server{
		Server: &http.Server{Handler: namedHandler("x")},
		Reload: func() error { return <-hookErr },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	if got := next(); got != "READY=1" {
		t.Fatalf("got %q, want READY=1", got)
	}
	reloading := regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=[0-9]+$`)

	hookErr <- nil
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if got := next(); !reloading.MatchString(got) {
		t.Errorf("got %q, want RELOADING=1", got)
	}
	if got := next(); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}

	hookErr <- errors.New("bad\nconfig")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if got := next(); !reloading.MatchString(got) {
		t.Errorf("got %q, want RELOADING=1", got)
	}
	if got, want := next(), "STATUS=reload failed: bad config\nERRNO=22"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := next(); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}

	if err := srv.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "STOPPING=1" {
		t.Errorf("got %q, want STOPPING=1", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v", err)
	}
	if err := srv.RunReload(); !errors.Is(err, ErrDraining) {
		t.Errorf("RunReload after drain = %v, want ErrDraining", err)
	}
}

// TestServeSIGTERM drains on a real SIGTERM.
func TestServeSIGTERM(t *testing.T) {
	next := notifySocket(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Server: &http.Server{Handler: namedHandler("x")}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	if got := next(); got != "READY=1" {
		t.Fatalf("got %q, want READY=1", got)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "STOPPING=1" {
		t.Errorf("got %q, want STOPPING=1", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v", err)
	}
}
