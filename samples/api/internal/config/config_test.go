package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	c, err := Parse([]byte(`{"greeting": "hi", "rate": 3}`))
	if err != nil || c != (Config{Greeting: "hi", Rate: 3}) {
		t.Fatalf("Parse = %+v, %v", c, err)
	}
	c, err = Parse([]byte(`{"greeting": "hey"}`))
	if err != nil || c.Rate != Default().Rate {
		t.Fatalf("partial config = %+v, %v; want default rate", c, err)
	}
	bad := map[string]string{
		`{"greeting": ""}`:              "greeting must not be empty",
		`{"greeting": "a\nb"}`:          "single line",
		`{"rate": 0}`:                   "rate must be positive",
		`{"rate": "fast"}`:              "line 1, column",
		`{"greting": "x"}`:              "unknown field",
		"{\n  \"greeting\": \"x\",,\n}": "line 2, column",
		`{} {}`:                         "unexpected data",
		``:                              "empty file",
		`{"greeting": "x"`:              "unexpected end",
	}
	for in, want := range bad {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", in, err, want)
		}
	}
}

func TestLoadAndCheck(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	if c, err := Load(missing); err != nil || c != Default() {
		t.Errorf("Load(missing) = %+v, %v; want defaults", c, err)
	}
	if err := Check(missing); err == nil {
		t.Error("Check(missing) succeeded")
	}
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"greeting": "hello", "rate": 10}`), 0o644)
	if err := Check(good); err != nil {
		t.Errorf("Check(good) = %v", err)
	}
	if err := Check("../../config/api.json"); err != nil {
		t.Errorf("shipped config/api.json: %v", err)
	}
}
