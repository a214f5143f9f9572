// Command api is a small HTTP service that runs under hotgo.
//
//	GET  /          version=<version> pid=<pid> generation=<n> greeting=<greeting>
//	GET  /page      the same as an HTML page (for `hotgo run --browser`)
//	GET  /healthz   ok
//	POST /-/reload  re-reads the config file (like SIGHUP)
//
// Flags: -addr (default 127.0.0.1:8080; the first HOTGO_LISTEN address wins
// when hotgo sets it), -config (default config/api.json, relative to the
// working directory; a missing file means defaults) and -check-config FILE,
// which validates FILE, prints "FILE: ok" or "FILE: <error>" and exits 0 or 1.
package main

import (
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"example.com/api/internal/config"
	"example.com/api/internal/hotgo"
)

const version = "v1"

// app holds the live configuration.
type app struct {
	path string
	cfg  atomic.Pointer[config.Config]
}

func newApp(path string, cfg config.Config) *app {
	a := &app{path: path}
	a.cfg.Store(&cfg)
	return a
}

// reload re-reads the config file; an invalid file leaves the current
// configuration in place and returns the error.
func (a *app) reload() error {
	cfg, err := config.Load(a.path)
	if err != nil {
		return fmt.Errorf("%s: %w", a.path, err)
	}
	a.cfg.Store(&cfg)
	log.Printf("config reloaded from %s: greeting=%q rate=%d", a.path, cfg.Greeting, cfg.Rate)
	return nil
}

// routes returns the service's handler; reload serves POST /-/reload.
func (a *app) routes(reload http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("GET /page", a.page)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.Handle("POST /-/reload", reload)
	return mux
}

func (a *app) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "version=%s pid=%d generation=%d greeting=%s\n",
		version, os.Getpid(), hotgo.Generation(), a.cfg.Load().Greeting)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html>
<head><meta charset="utf-8"><title>api {{.Version}}</title></head>
<body>
<h1>api <span id="version">{{.Version}}</span></h1>
<p>generation {{.Generation}}, pid {{.Pid}}: {{.Greeting}}</p>
</body>
</html>
`))

func (a *app) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pageTemplate.Execute(w, map[string]any{
		"Version": version, "Generation": hotgo.Generation(), "Pid": os.Getpid(), "Greeting": a.cfg.Load().Greeting,
	})
}

// checkConfig implements -check-config and returns the exit code.
func checkConfig(path string, stdout, stderr io.Writer) int {
	if err := config.Check(path); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return 0
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (the first HOTGO_LISTEN address takes precedence)")
	cfgPath := flag.String("config", "config/api.json", "config file (missing means defaults)")
	check := flag.String("check-config", "", "validate this config file and exit")
	flag.Parse()

	if *check != "" {
		os.Exit(checkConfig(*check, os.Stdout, os.Stderr))
	}

	cfg, err := config.Load(*cfgPath)
	if err != nil {
		log.Fatalf("%s: %v", *cfgPath, err)
	}
	a := newApp(*cfgPath, cfg)

	if addrs := hotgo.Addrs(); len(addrs) > 0 {
		*addr = addrs[0]
	}
	l, err := hotgo.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}

	srv := &hotgo.Server{
		Server: &http.Server{ReadHeaderTimeout: 10 * time.Second},
		Reload: a.reload,
	}
	srv.Handler = a.routes(srv.ReloadHandler())

	log.Printf("api %s pid=%d generation=%d listening on %s", version, os.Getpid(), hotgo.Generation(), l.Addr())
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Printf("api %s pid=%d drained", version, os.Getpid())
}
