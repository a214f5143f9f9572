package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"example.com/api/internal/config"
	"example.com/api/internal/hotgo"
)

func testServer(t *testing.T, cfgJSON string) (*app, http.Handler, string) {
	t.Helper()
	t.Setenv("NOTIFY_SOCKET", "")
	path := filepath.Join(t.TempDir(), "api.json")
	if cfgJSON != "" {
		if err := os.WriteFile(path, []byte(cfgJSON), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(path, cfg)
	srv := &hotgo.Server{Reload: a.reload}
	return a, a.routes(srv.ReloadHandler()), path
}

func get(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestIndex(t *testing.T) {
	t.Setenv("HOTGO_GENERATION", "3")
	_, h, _ := testServer(t, `{"greeting": "hi", "rate": 5}`)
	rec := get(h, "GET", "/")
	want := regexp.MustCompile(`^version=v1 pid=[0-9]+ generation=3 greeting=hi\n$`)
	if rec.Code != 200 || !want.MatchString(rec.Body.String()) {
		t.Errorf("GET / = %d %q", rec.Code, rec.Body)
	}
	if rec := get(h, "GET", "/healthz"); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "ok" {
		t.Errorf("GET /healthz = %d %q", rec.Code, rec.Body)
	}
	if rec := get(h, "GET", "/nope"); rec.Code != 404 {
		t.Errorf("GET /nope = %d", rec.Code)
	}
}

func TestPage(t *testing.T) {
	_, h, _ := testServer(t, `{"greeting": "<hi>", "rate": 5}`)
	rec := get(h, "GET", "/page")
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(body, `<span id="version">v1</span>`) || !strings.Contains(body, "&lt;hi&gt;") ||
		!strings.Contains(body, "</body>") {
		t.Errorf("GET /page = %d %q", rec.Code, body)
	}
}

func TestDefaultsWithoutConfigFile(t *testing.T) {
	t.Setenv("HOTGO_GENERATION", "")
	_, h, _ := testServer(t, "")
	if body := get(h, "GET", "/").Body.String(); !strings.HasSuffix(body, " generation=0 greeting=hello\n") {
		t.Errorf("GET / = %q", body)
	}
}

func TestReload(t *testing.T) {
	a, h, path := testServer(t, `{"greeting": "hi"}`)
	os.WriteFile(path, []byte(`{"greeting": "bonjour"}`), 0o644)
	if rec := get(h, "POST", "/-/reload"); rec.Code != 200 {
		t.Fatalf("reload = %d %q", rec.Code, rec.Body)
	}
	if g := a.cfg.Load().Greeting; g != "bonjour" {
		t.Errorf("greeting after reload = %q", g)
	}
	os.WriteFile(path, []byte(`{"greeting": "broken",`), 0o644)
	rec := get(h, "POST", "/-/reload")
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), path) {
		t.Errorf("invalid reload = %d %q", rec.Code, rec.Body)
	}
	if g := a.cfg.Load().Greeting; g != "bonjour" {
		t.Errorf("greeting after failed reload = %q, want the old one", g)
	}
	if rec := get(h, "GET", "/-/reload"); rec.Code != 405 {
		t.Errorf("GET /-/reload = %d", rec.Code)
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"greeting": "hello", "rate": 10}`), 0o644)
	os.WriteFile(bad, []byte(`{"rate": -1}`), 0o644)
	var out, errb bytes.Buffer
	if code := checkConfig(good, &out, &errb); code != 0 || out.String() != good+": ok\n" {
		t.Errorf("good: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := checkConfig(bad, &out, &errb); code != 1 || !strings.HasPrefix(errb.String(), bad+": rate must be positive") {
		t.Errorf("bad: %d %q %q", code, out.String(), errb.String())
	}
}
